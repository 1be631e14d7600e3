/** Polls `check` every 10 ms; true once it holds, false after `ms` (for `expect(await until(…)).toBe(true)`). */
export async function until(check: () => boolean, ms = 3000): Promise<boolean> {
  const end = Date.now() + ms;
  while (!check()) {
    if (Date.now() > end) return false;
    await new Promise((r) => setTimeout(r, 10));
  }
  return true;
}

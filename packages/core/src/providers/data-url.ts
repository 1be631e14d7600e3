/** A `data:` URL's parts (RFC 2397). */
export interface DataUrl {
  /** Lower-cased, `image/jpg` as `image/jpeg` (what data URLs often say, and no provider takes); '' when absent. */
  mediaType: string;
  /** Whether the payload is base64 (the `;base64` marker, in any case); else it is percent-encoded text. */
  base64: boolean;
  payload: string;
}

const DATA_URL = /^data:([^;,]*)((?:;[^;,]*)*),(.*)$/is;

/** A `data:` URL split into its parts; undefined for any other URL, or one without its comma. */
export function parseDataUrl(url: string): DataUrl | undefined {
  const m = DATA_URL.exec(url);
  if (!m) return undefined;
  const type = m[1]!.trim().toLowerCase();
  return {
    mediaType: type === 'image/jpg' ? 'image/jpeg' : type,
    base64: m[2]!.split(';').some((p) => p.trim().toLowerCase() === 'base64'),
    payload: m[3]!,
  };
}

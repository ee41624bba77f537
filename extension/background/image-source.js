// Gets the bytes of the picture that was right-clicked. The extension reads images itself
// (never the host): http(s) through this worker's fetch, which host permissions exempt from
// CORS; data: URLs decoded here; blob: and other page-only URLs by the content script.
import '../strings.js';
import { TabSenseError } from './errors.js';

const { STRINGS, formatString } = globalThis;
const FETCH_TIMEOUT_MS = 15000;

export async function loadImage(srcUrl, askPage) {
  const scheme = srcUrl.slice(0, srcUrl.indexOf(':') + 1).toLowerCase();
  if (scheme === 'http:' || scheme === 'https:') return fetchImage(srcUrl);
  if (scheme === 'data:') return decodeDataUrl(srcUrl);
  return decodeDataUrl(await askPage(srcUrl)); // the page answers with a data: URL
}

async function fetchImage(url) {
  let response;
  try {
    // Cookies go along so pictures behind a login load the way the page loaded them.
    response = await fetch(url, {
      credentials: 'include',
      signal: AbortSignal.timeout(FETCH_TIMEOUT_MS),
    });
  } catch (error) {
    const detail =
      error.name === 'TimeoutError'
        ? formatString(STRINGS.detailFetchTimeout, { seconds: FETCH_TIMEOUT_MS / 1000 })
        : STRINGS.detailNetwork;
    throw new TabSenseError('fetch_failed', { message: error.message, detail });
  }
  if (!response.ok) {
    throw new TabSenseError('fetch_failed', {
      message: `HTTP ${response.status}`,
      detail: formatString(STRINGS.detailHttpStatus, { status: response.status }),
    });
  }
  return response.blob();
}

// data:[<mime>][;base64],<payload>
export function decodeDataUrl(url) {
  const comma = url.indexOf(',');
  if (!url.startsWith('data:') || comma < 0) throw new TabSenseError('not_an_image');
  const meta = url.slice(5, comma);
  const payload = url.slice(comma + 1);
  const type = meta.split(';')[0] || 'text/plain';
  let bytes;
  try {
    if (/;base64$/i.test(meta)) {
      const binary = atob(decodeURIComponent(payload).replace(/\s+/g, ''));
      bytes = new Uint8Array(binary.length);
      for (let i = 0; i < binary.length; i += 1) bytes[i] = binary.charCodeAt(i);
    } else {
      bytes = new TextEncoder().encode(decodeURIComponent(payload));
    }
  } catch (error) {
    throw new TabSenseError('not_an_image', { message: error.message });
  }
  return new Blob([bytes], { type });
}

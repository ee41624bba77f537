// Makes a picture small enough to send: the model only looks at 224x224, so anything with
// a side over MAX_SIDE is downscaled here (createImageBitmap + OffscreenCanvas) and re-encoded
// as JPEG. Smaller pictures go as they are, so the host sees the original bytes.
import { TabSenseError } from './errors.js';

export const MAX_SIDE = 1024;
const MAX_BYTES = 4 * 1024 * 1024; // bigger files are re-encoded even when their size is fine
const JPEG_QUALITY = 0.9;

// -> {blob, width, height, originalWidth, originalHeight, downscaled}
export async function prepareImage(blob) {
  if (blob.type === 'image/svg+xml') throw new TabSenseError('unsupported_image');
  let bitmap;
  try {
    bitmap = await createImageBitmap(blob); // also proves the browser can decode it
  } catch (error) {
    throw new TabSenseError('not_an_image', { message: error.message });
  }
  const { width, height } = bitmap;
  const scale = Math.min(1, MAX_SIDE / Math.max(width, height));
  if (scale === 1 && blob.size <= MAX_BYTES) {
    bitmap.close();
    return { blob, width, height, originalWidth: width, originalHeight: height, downscaled: false };
  }
  const w = Math.max(1, Math.round(width * scale));
  const h = Math.max(1, Math.round(height * scale));
  const canvas = new OffscreenCanvas(w, h);
  const context = canvas.getContext('2d');
  context.fillStyle = '#fff'; // JPEG has no alpha: transparent parts become white, not black
  context.fillRect(0, 0, w, h);
  context.imageSmoothingQuality = 'high';
  context.drawImage(bitmap, 0, 0, w, h);
  bitmap.close();
  const out = await canvas.convertToBlob({ type: 'image/jpeg', quality: JPEG_QUALITY });
  return { blob: out, width: w, height: h, originalWidth: width, originalHeight: height, downscaled: true };
}

export async function blobToBase64(blob) {
  const bytes = new Uint8Array(await blob.arrayBuffer());
  let binary = '';
  const chunk = 0x8000; // String.fromCharCode takes arguments on the stack: go in slices
  for (let i = 0; i < bytes.length; i += chunk) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + chunk));
  }
  return btoa(binary);
}

// Pixel work in the service worker: decoding captures, cutting crops, stitching parts.
// Uses createImageBitmap and OffscreenCanvas (no DOM in a service worker); no chrome.* here.

const BASE64_CHUNK = 0x8000;

/** Base64 of bytes, in chunks so that large images do not overflow String.fromCharCode's arguments. */
export function bytesToBase64(bytes) {
  let binary = "";
  for (let i = 0; i < bytes.length; i += BASE64_CHUNK) {
    binary += String.fromCharCode.apply(null, bytes.subarray(i, i + BASE64_CHUNK));
  }
  return btoa(binary);
}

export async function decodeDataUrl(dataUrl) {
  const blob = await (await fetch(dataUrl)).blob();
  return createImageBitmap(blob);
}

async function canvasToDataUrl(canvas) {
  const blob = await canvas.convertToBlob({ type: "image/png" });
  return `data:image/png;base64,${bytesToBase64(new Uint8Array(await blob.arrayBuffer()))}`;
}

/** A PNG data URL of `rect` (device px) of a bitmap. */
export async function cropToDataUrl(bitmap, rect) {
  const canvas = new OffscreenCanvas(rect.width, rect.height);
  canvas.getContext("2d").drawImage(bitmap, rect.x, rect.y, rect.width, rect.height, 0, 0, rect.width, rect.height);
  return canvasToDataUrl(canvas);
}

/** RGBA pixels of `rect` of a bitmap. */
export function pixelsOf(bitmap, rect) {
  const canvas = new OffscreenCanvas(rect.width, rect.height);
  const context = canvas.getContext("2d", { willReadFrequently: true });
  context.drawImage(bitmap, rect.x, rect.y, rect.width, rect.height, 0, 0, rect.width, rect.height);
  return context.getImageData(0, 0, rect.width, rect.height).data;
}

/**
 * One image from vertical pieces: [{bitmap, source: rect in the bitmap, y, height}] drawn at
 * full width; a piece whose source height differs by a rounding pixel is stretched to fit.
 */
export async function stitchToDataUrl(pieces, width, height) {
  const canvas = new OffscreenCanvas(width, height);
  const context = canvas.getContext("2d");
  for (const { bitmap, source, y, height: pieceHeight } of pieces) {
    context.drawImage(bitmap, source.x, source.y, source.width, source.height, 0, y, width, pieceHeight);
  }
  return canvasToDataUrl(canvas);
}

// A cheap test of whether an image looks blurred, for images without a CSS blur (pre-blurred
// pictures of text). A sharp edge changes within one pixel, so differences over one pixel carry
// about half the energy of differences over two; a blurred edge spreads over several pixels and
// one-pixel differences carry about a quarter.

const MIN_CONTRAST = 12; // luminance steps (0-255) below which there is nothing to judge
export const BLURRED_BELOW = 0.35;
// Text sits on a plain background: one luminance band holds much of the picture. Smooth photos
// also have little one-pixel energy, and this keeps them from being "sharpened" as text.
const BACKGROUND_BAND = 16;
export const TEXT_BACKGROUND_SHARE = 0.25;

function luminance(rgba, width, height) {
  const gray = new Float32Array(width * height);
  for (let i = 0; i < gray.length; i += 1) {
    gray[i] = 0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2];
  }
  return gray;
}

/**
 * Ratio of one-pixel to two-pixel difference energy (0.5 sharp, about 0.25 blurred), or null
 * when the image is too small or too flat to tell. rgba: Uint8ClampedArray of width*height*4.
 */
export function sharpnessRatio(rgba, width, height) {
  if (width < 4 || height < 4 || rgba.length < width * height * 4) return null;
  const gray = luminance(rgba, width, height);
  let near = 0;
  let far = 0;
  let lo = Infinity;
  let hi = -Infinity;
  for (let y = 0; y < height; y += 1) {
    for (let x = 0; x < width; x += 1) {
      const v = gray[y * width + x];
      lo = Math.min(lo, v);
      hi = Math.max(hi, v);
      if (x + 2 < width) {
        near += (gray[y * width + x + 1] - v) ** 2;
        far += (gray[y * width + x + 2] - v) ** 2;
      }
      if (y + 2 < height) {
        near += (gray[(y + 1) * width + x] - v) ** 2;
        far += (gray[(y + 2) * width + x] - v) ** 2;
      }
    }
  }
  if (hi - lo < MIN_CONTRAST || far === 0) return null;
  return near / far;
}

/** The largest share of pixels whose luminance falls in one band of BACKGROUND_BAND levels. */
export function backgroundShare(rgba, width, height) {
  const gray = luminance(rgba, width, height);
  if (!gray.length) return 0;
  const bins = new Uint32Array(Math.ceil(256 / BACKGROUND_BAND) + 1);
  // Two offset histograms, so a background straddling a band edge is not split in half.
  const shifted = new Uint32Array(bins.length);
  for (const v of gray) {
    bins[Math.floor(v / BACKGROUND_BAND)] += 1;
    shifted[Math.floor((v + BACKGROUND_BAND / 2) / BACKGROUND_BAND)] += 1;
  }
  return Math.max(...bins, ...shifted) / gray.length;
}

/** Whether a picture looks like blurred text: soft edges on a plain background. */
export function looksBlurred(rgba, width, height) {
  const ratio = sharpnessRatio(rgba, width, height);
  return ratio !== null && ratio < BLURRED_BELOW && backgroundShare(rgba, width, height) >= TEXT_BACKGROUND_SHARE;
}

// A cheap test of whether an image looks blurred, for images without a CSS blur (pre-blurred
// pictures of text). A sharp edge changes within one pixel, so differences over one pixel carry
// about half the energy of differences over two; a blurred edge spreads over several pixels and
// one-pixel differences carry about a quarter.
//
// "One pixel" must be a pixel of the picture as the page means it, not a device pixel: a sharp
// picture shown at 2 device px per pixel (devicePixelRatio 2) is interpolated by the browser and
// its device pixels measure as soft as a blurred one's. Pixels read from the screen are therefore
// averaged down to the judging pitch (judgingPitch) before they are measured.

const MIN_CONTRAST = 12; // luminance steps (0-255) below which there is nothing to judge
export const BLURRED_BELOW = 0.35;
// Text sits on a plain background: one luminance band holds much of the picture. Smooth photos
// also have little one-pixel energy, and this keeps them from being "sharpened" as text.
const BACKGROUND_BAND = 16;
export const TEXT_BACKGROUND_SHARE = 0.25;

// An image shown this much larger than its own pixels by CSS is soft on screen whatever its
// pixels are: it is judged from the screen, as it is seen.
export const UPSCALED_ABOVE = 1.25;

function luminance(rgba, width, height) {
  const gray = new Float32Array(width * height);
  for (let i = 0; i < gray.length; i += 1) {
    gray[i] = 0.299 * rgba[4 * i] + 0.587 * rgba[4 * i + 1] + 0.114 * rgba[4 * i + 2];
  }
  return gray;
}

/**
 * Whether a picture's own pixels tell how it looks: false when CSS shows it more than
 * UPSCALED_ABOVE times larger than its pixels (CSS px per image px; the screen's
 * devicePixelRatio is no part of this, it magnifies every picture and the text around it alike).
 */
export function ownPixelsShowAsDrawn({ naturalWidth, naturalHeight, shownWidth, shownHeight }) {
  return Math.max(shownWidth / naturalWidth, shownHeight / naturalHeight) <= UPSCALED_ABOVE;
}

/**
 * Device pixels per judged pixel for a picture captured from the screen: one pixel of the
 * picture where it is finer than a CSS pixel, else one CSS pixel (an image CSS scales up is
 * judged as it is seen on a screen of devicePixelRatio 1), and never less than a device pixel.
 * deviceScale: device px per CSS px (devicePixelRatio with page zoom); imagePerCss: the picture's
 * pixels per CSS px, null when unknown (background images), taken as one.
 */
export function judgingPitch(deviceScale, imagePerCss = null) {
  return Math.max(1, deviceScale / Math.max(1, imagePerCss ?? 1));
}

/** Per output index, the input indices it covers and their weights (box filter of `pitch` px). */
function boxWeights(size, pitch) {
  const count = Math.floor(size / pitch);
  return Array.from({ length: count }, (_, i) => {
    const [start, end] = [i * pitch, (i + 1) * pitch];
    const taps = [];
    for (let j = Math.floor(start); j < Math.min(size, Math.ceil(end)); j += 1) {
      taps.push({ index: j, weight: (Math.min(end, j + 1) - Math.max(start, j)) / pitch });
    }
    return taps;
  });
}

/** A grey image averaged down by `pitch` (>= 1) input pixels per output pixel, each way. */
export function averageDown(gray, width, height, pitch) {
  if (pitch <= 1) return { gray, width, height };
  const columns = boxWeights(width, pitch);
  const rows = boxWeights(height, pitch);
  const narrow = new Float32Array(columns.length * height);
  for (let y = 0; y < height; y += 1) {
    columns.forEach((taps, x) => {
      narrow[y * columns.length + x] = taps.reduce((sum, { index, weight }) => sum + weight * gray[y * width + index], 0);
    });
  }
  const out = new Float32Array(columns.length * rows.length);
  rows.forEach((taps, y) => {
    for (let x = 0; x < columns.length; x += 1) {
      out[y * columns.length + x] = taps.reduce((sum, { index, weight }) => sum + weight * narrow[index * columns.length + x], 0);
    }
  });
  return { gray: out, width: columns.length, height: rows.length };
}

/**
 * Ratio of one-pixel to two-pixel difference energy (0.5 sharp, about 0.25 blurred), or null
 * when the image is too small or too flat to tell. rgba: Uint8ClampedArray of width*height*4;
 * pitch: device px per judged pixel (judgingPitch), 1 for a picture's own pixels.
 */
export function sharpnessRatio(rgba, width, height, pitch = 1) {
  if (rgba.length < width * height * 4) return null;
  return grayRatio(averageDown(luminance(rgba, width, height), width, height, pitch));
}

function grayRatio({ gray, width, height }) {
  if (width < 4 || height < 4) return null;
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

/** Whether a picture looks like blurred text: soft edges on a plain background, judged at `pitch` (sharpnessRatio). */
export function looksBlurred(rgba, width, height, pitch = 1) {
  const ratio = sharpnessRatio(rgba, width, height, pitch);
  return ratio !== null && ratio < BLURRED_BELOW && backgroundShare(rgba, width, height) >= TEXT_BACKGROUND_SHARE;
}

// Registered by automatic mode for the sites picked in the options: once the page has loaded
// and settled, ask the service worker to sharpen its blurred text.
(() => {
  const SETTLE_MS = 500;
  const request = () => setTimeout(() => chrome.runtime.sendMessage({ type: "auto-sharpen" }), SETTLE_MS);
  if (document.readyState === "complete") request();
  else addEventListener("load", request, { once: true });
})();

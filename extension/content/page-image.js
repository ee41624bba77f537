// Reads a picture that only the page can reach, such as a blob: URL the page created.
// Answers with a data: URL because extension messages carry JSON, not bytes.
(() => {
  if (globalThis.TabSensePageImage) return;

  const { STRINGS } = globalThis;
  const MAX_SIDE = 1024; // same limit as the worker: the model looks at 224x224 anyway

  function blobToDataUrl(blob) {
    return new Promise((resolve, reject) => {
      const reader = new FileReader();
      reader.onload = () => resolve(reader.result);
      reader.onerror = () => reject(reader.error);
      reader.readAsDataURL(blob);
    });
  }

  // Pages often revoke a blob: URL once the image has loaded; the decoded picture is still
  // on screen, so draw it. Throws if the canvas is tainted (cross-origin picture).
  function drawLoadedImage(srcUrl) {
    const img = globalThis.TabSenseOverlay.findImages(srcUrl).find((i) => i.complete && i.naturalWidth > 0);
    if (!img) return null;
    const scale = Math.min(1, MAX_SIDE / Math.max(img.naturalWidth, img.naturalHeight));
    const canvas = document.createElement('canvas');
    canvas.width = Math.max(1, Math.round(img.naturalWidth * scale));
    canvas.height = Math.max(1, Math.round(img.naturalHeight * scale));
    canvas.getContext('2d').drawImage(img, 0, 0, canvas.width, canvas.height);
    return canvas.toDataURL('image/png');
  }

  // -> {dataUrl} or {error: {code, message, detail}}
  async function read(srcUrl) {
    try {
      const response = await fetch(srcUrl);
      if (!response.ok) throw new Error(`HTTP ${response.status}`);
      return { dataUrl: await blobToDataUrl(await response.blob()) };
    } catch (error) {
      try {
        const dataUrl = drawLoadedImage(srcUrl);
        if (dataUrl) return { dataUrl };
      } catch {
        // tainted canvas: fall through to the original error
      }
      return { error: { code: 'fetch_failed', message: String(error.message || error), detail: STRINGS.detailBlobGone } };
    }
  }

  globalThis.TabSensePageImage = { read };
})();

// Draws TabSense's answer over a picture in the page.
// The card lives in a shadow root on its own element appended to <html>, positioned
// absolutely over the image: it never wraps or moves the image, page CSS cannot restyle it,
// and clicks on it never reach links or handlers around the image. The data-tabsense-*
// attributes stay on that light-DOM element so the state can be read from outside.
(() => {
  if (globalThis.TabSenseOverlay) return; // injected again on every click

  const { STRINGS, formatString } = globalThis;
  const TOP_N = 5;
  const overlays = new Map(); // <img> (or null for the fallback toast) -> overlay

  const CSS = `
    :host { all: initial; }
    .card {
      position: absolute; top: 6px; left: 6px; box-sizing: border-box;
      min-width: 120px; max-width: 320px; padding: 6px 8px 6px 10px;
      border-radius: 8px; background: rgba(17, 24, 39, 0.9); color: #f9fafb;
      box-shadow: 0 2px 10px rgba(0, 0, 0, 0.35); pointer-events: auto; cursor: default;
      font: 13px/1.35 system-ui, -apple-system, "Segoe UI", Roboto, "Liberation Sans", sans-serif;
      text-align: left; user-select: text; outline: none;
    }
    :host([data-tabsense-fallback]) .card { position: fixed; top: 12px; left: auto; right: 12px; }
    .card:focus-visible { box-shadow: 0 0 0 2px #a5b4fc, 0 2px 10px rgba(0, 0, 0, 0.35); }
    .head { display: flex; align-items: center; gap: 8px; }
    .label { font-weight: 600; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; flex: 1; }
    .score { font-variant-numeric: tabular-nums; padding: 1px 6px; border-radius: 999px; background: #4f46e5; font-weight: 600; }
    .close {
      all: unset; cursor: pointer; width: 18px; height: 18px; line-height: 18px; text-align: center;
      border-radius: 4px; color: #d1d5db; font-size: 15px;
    }
    .close:hover, .close:focus-visible { background: rgba(255, 255, 255, 0.15); color: #fff; }
    .details { display: none; margin-top: 6px; }
    .card:hover .details, .card:focus-within .details, .card.expanded .details { display: block; }
    .details h2 { all: unset; display: block; font-size: 11px; color: #9ca3af; margin-bottom: 4px; }
    ol { all: unset; display: grid; grid-template-columns: minmax(0, 1fr) 60px 38px; gap: 3px 8px; align-items: center; }
    li { display: contents; }
    .name { overflow: hidden; text-overflow: ellipsis; white-space: nowrap; }
    .bar { height: 6px; border-radius: 3px; background: rgba(255, 255, 255, 0.15); overflow: hidden; }
    .bar i { display: block; height: 100%; background: #818cf8; }
    .pct { text-align: right; font-variant-numeric: tabular-nums; color: #d1d5db; }
    .foot { margin-top: 6px; font-size: 11px; color: #9ca3af; }
    .spinner {
      width: 12px; height: 12px; border-radius: 50%; border: 2px solid rgba(255, 255, 255, 0.3);
      border-top-color: #fff; animation: spin 0.8s linear infinite;
    }
    @keyframes spin { to { transform: rotate(360deg); } }
    .error { background: rgba(127, 29, 29, 0.95); }
    .icon {
      flex: none; width: 18px; height: 18px; border-radius: 50%; background: #fca5a5; color: #7f1d1d;
      font-weight: 700; text-align: center; line-height: 18px;
    }
    .error .text { font-weight: 600; flex: 1; }
    .error p { all: unset; display: block; margin-top: 4px; }
    .note { all: unset; display: block; margin-top: 6px; font-size: 11px; color: #d1d5db; }
    .note.engine { color: #fcd34d; }
    code {
      font: 12px/1.4 ui-monospace, "DejaVu Sans Mono", Menlo, Consolas, monospace;
      background: rgba(0, 0, 0, 0.35); padding: 1px 4px; border-radius: 4px; user-select: all;
    }
    .copy {
      all: unset; cursor: pointer; margin-left: 6px; padding: 0 6px; border-radius: 4px;
      font-size: 11px; background: rgba(255, 255, 255, 0.18);
    }
    .copy:hover, .copy:focus-visible { background: rgba(255, 255, 255, 0.3); }
  `;

  function el(tag, className, text) {
    const node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function percent(score) {
    const value = Math.round(score * 100);
    return value < 1 && score > 0 ? '<1%' : `${value}%`;
  }

  // Model labels sometimes use underscores; people read spaces.
  function displayLabel(label) {
    return String(label).replace(/_/g, ' ');
  }

  function findImages(srcUrl) {
    return [...document.images].filter((img) => img.currentSrc === srcUrl || img.src === srcUrl);
  }

  function hasFixedAncestor(node) {
    for (let n = node; n && n !== document.documentElement; n = n.parentElement) {
      if (getComputedStyle(n).position === 'fixed') return true;
    }
    return false;
  }

  // --- overlay lifecycle -------------------------------------------------------------

  function overlayFor(img) {
    let overlay = overlays.get(img);
    if (overlay) return overlay;
    const host = document.createElement('tabsense-overlay');
    for (const [name, value] of Object.entries({
      position: 'absolute', display: 'block', margin: '0', padding: '0', border: '0',
      'z-index': '2147483647', 'pointer-events': 'none', 'box-sizing': 'border-box',
    })) {
      host.style.setProperty(name, value, 'important'); // page CSS must not move or hide it
    }
    // Keep our clicks away from the page (and its "click outside" handlers).
    for (const type of ['click', 'mousedown', 'mouseup', 'pointerdown', 'pointerup', 'dblclick', 'contextmenu']) {
      host.addEventListener(type, (event) => event.stopPropagation());
    }
    const root = host.attachShadow({ mode: 'open' });
    root.append(el('style', '', CSS));
    overlay = { img, host, root, fixed: img ? hasFixedAncestor(img) : true, watchdog: 0 };
    if (!img) host.setAttribute('data-tabsense-fallback', '');
    document.documentElement.append(host);
    overlays.set(img, overlay);
    if (img) resizeObserver.observe(img);
    place(overlay);
    return overlay;
  }

  function dismiss(overlay) {
    clearTimeout(overlay.watchdog);
    overlay.host.remove();
    overlays.delete(overlay.img);
    if (overlay.img) resizeObserver.unobserve(overlay.img);
  }

  // Puts the host element exactly over the image's box, in page coordinates so it scrolls
  // with the page for free; fixed-position images get a fixed host instead.
  function place(overlay) {
    const { host, img } = overlay;
    if (!img) {
      host.style.setProperty('position', 'fixed', 'important');
      host.style.setProperty('inset', '0 0 auto auto', 'important');
      return;
    }
    if (!img.isConnected) {
      dismiss(overlay);
      return;
    }
    const rect = img.getBoundingClientRect();
    const visible = rect.width > 0 && rect.height > 0;
    host.style.setProperty('display', visible ? 'block' : 'none', 'important');
    if (!visible) return;
    const position = overlay.fixed ? 'fixed' : 'absolute';
    const offsetX = overlay.fixed ? 0 : window.scrollX;
    const offsetY = overlay.fixed ? 0 : window.scrollY;
    host.style.setProperty('position', position, 'important');
    host.style.setProperty('width', `${rect.width}px`, 'important');
    host.style.setProperty('height', `${rect.height}px`, 'important');
    let left = rect.left + offsetX;
    let top = rect.top + offsetY;
    host.style.setProperty('left', `${left}px`, 'important');
    host.style.setProperty('top', `${top}px`, 'important');
    // A positioned or offset <html> shifts our containing block: measure and correct once.
    const actual = host.getBoundingClientRect();
    if (Math.abs(actual.left - rect.left) > 0.5 || Math.abs(actual.top - rect.top) > 0.5) {
      left += rect.left - actual.left;
      top += rect.top - actual.top;
      host.style.setProperty('left', `${left}px`, 'important');
      host.style.setProperty('top', `${top}px`, 'important');
    }
  }

  let frame = 0;
  function placeAllSoon() {
    if (frame) return;
    frame = requestAnimationFrame(() => {
      frame = 0;
      for (const overlay of [...overlays.values()]) place(overlay);
    });
  }
  const resizeObserver = new ResizeObserver(placeAllSoon);
  resizeObserver.observe(document.documentElement); // layout shifts move images too
  // Capture catches scrolling inside any scrollable box, not only the page.
  window.addEventListener('scroll', placeAllSoon, { capture: true, passive: true });
  window.addEventListener('resize', placeAllSoon, { passive: true });

  // --- card contents -----------------------------------------------------------------

  function resetHost(overlay, state) {
    clearTimeout(overlay.watchdog);
    const { host, root } = overlay;
    for (const name of ['data-tabsense-label', 'data-tabsense-score', 'data-tabsense-error', 'data-tabsense-model', 'data-tabsense-engine']) {
      host.removeAttribute(name);
    }
    host.setAttribute('data-tabsense-state', state);
    root.querySelector('.card')?.remove();
  }

  function closeButton(overlay) {
    const button = el('button', 'close', '×');
    button.type = 'button';
    button.title = STRINGS.overlayDismiss;
    button.setAttribute('aria-label', STRINGS.overlayDismiss);
    button.addEventListener('click', () => dismiss(overlay));
    return button;
  }

  function newCard(overlay, className) {
    const card = el('div', className);
    card.tabIndex = 0;
    card.addEventListener('keydown', (event) => {
      if (event.key === 'Escape') dismiss(overlay);
    });
    overlay.root.append(card);
    return card;
  }

  // In the corner instead of on the picture: say why, below the answer.
  function noteIfFallback(overlay, card) {
    if (!overlay.img) card.append(el('p', 'note', STRINGS.overlayNoImage));
  }

  function renderPending(overlay, timeoutMs) {
    resetHost(overlay, 'pending');
    const card = newCard(overlay, 'card');
    card.setAttribute('role', 'status');
    const head = el('div', 'head');
    head.append(el('span', 'spinner'), el('span', 'label', STRINGS.overlayPending), closeButton(overlay));
    card.append(head);
    // If the service worker never answers (it was stopped mid-way), do not spin forever.
    overlay.watchdog = setTimeout(() => {
      renderError(overlay, { code: 'timeout', text: STRINGS.errors.timeout.text });
    }, timeoutMs);
  }

  function renderResult(overlay, result, elapsedMs) {
    const labels = result.labels || [];
    const top = labels[0];
    if (!top) {
      renderError(overlay, { code: 'internal_error', text: STRINGS.errors.internal_error.text });
      return;
    }
    resetHost(overlay, 'result');
    const { host } = overlay;
    host.setAttribute('data-tabsense-label', top.label);
    host.setAttribute('data-tabsense-score', String(top.score));
    if (result.model?.name) host.setAttribute('data-tabsense-model', result.model.name);
    if (result.engine) host.setAttribute('data-tabsense-engine', result.engine); // 'host' or 'browser'

    const card = newCard(overlay, 'card');
    card.setAttribute('role', 'status');
    card.title = displayLabel(top.label);
    const head = el('div', 'head');
    head.append(el('span', 'label', displayLabel(top.label)), el('span', 'score', percent(top.score)), closeButton(overlay));
    // Hover shows the top 5; a click pins them open, for touch screens and keyboards.
    head.addEventListener('click', (event) => {
      if (!event.target.closest('.close')) card.classList.toggle('expanded');
    });
    card.addEventListener('keydown', (event) => {
      if (event.key === 'Enter' || event.key === ' ') card.classList.toggle('expanded');
    });

    const details = el('div', 'details');
    const shown = labels.slice(0, TOP_N);
    details.append(el('h2', '', formatString(STRINGS.overlayTopN, { count: shown.length })));
    const list = el('ol');
    for (const { label, score } of shown) {
      const row = el('li');
      const bar = el('span', 'bar');
      const fill = el('i');
      fill.style.width = `${Math.max(0, Math.min(1, score)) * 100}%`;
      bar.append(fill);
      row.append(el('span', 'name', displayLabel(label)), bar, el('span', 'pct', percent(score)));
      list.append(row);
    }
    details.append(list);
    if (result.model?.name) {
      details.append(el('div', 'foot', formatString(STRINGS.overlayFooter, { model: result.model.name, ms: elapsedMs })));
    }
    card.append(head, details);
    // Always visible, not only on hover: people should know a slower model answered.
    if (result.notice) card.append(el('p', 'note engine', result.notice));
    noteIfFallback(overlay, card);
  }

  // error: {code, text, fix, command, detail} as made by describeError in the worker.
  function renderError(overlay, error) {
    resetHost(overlay, 'error');
    overlay.host.setAttribute('data-tabsense-error', error.code);
    const card = newCard(overlay, 'card error');
    card.setAttribute('role', 'alert');
    const head = el('div', 'head');
    head.append(el('span', 'icon', '!'), el('span', 'text', error.text), closeButton(overlay));
    card.append(head);
    if (error.detail) card.append(el('p', 'detail', error.detail));
    if (error.fix) card.append(fixLine(error.fix, error.command));
    noteIfFallback(overlay, card);
  }

  // The fix sentence, with the command in it set as code and a copy button after it.
  function fixLine(fix, command) {
    const line = el('p', 'fix');
    const at = command ? fix.indexOf(command) : -1;
    if (at < 0) {
      line.textContent = fix;
      return line;
    }
    const copy = el('button', 'copy', STRINGS.overlayCopy);
    copy.type = 'button';
    copy.addEventListener('click', async () => {
      try {
        await navigator.clipboard.writeText(command);
        copy.textContent = STRINGS.overlayCopied;
      } catch {
        // Clipboard can be blocked by the page; the command is selectable (user-select: all).
      }
    });
    line.append(fix.slice(0, at), el('code', '', command), fix.slice(at + command.length), copy);
    return line;
  }

  // --- API used by content/router.js ----------------------------------------------------
  // Each call draws on every copy of the picture in this frame and returns how many there
  // were; with `fallback`, a frame that has no copy shows the card in its top corner.

  function targets(srcUrl, fallback) {
    const images = findImages(srcUrl);
    if (images.length > 0) return images.map(overlayFor);
    return fallback ? [overlayFor(null)] : [];
  }

  globalThis.TabSenseOverlay = {
    findImages,
    showPending(srcUrl, timeoutMs, fallback) {
      const list = targets(srcUrl, fallback);
      for (const overlay of list) renderPending(overlay, timeoutMs);
      return list.length;
    },
    showResult(srcUrl, result, elapsedMs, fallback) {
      const list = targets(srcUrl, fallback);
      for (const overlay of list) renderResult(overlay, result, elapsedMs);
      return list.length;
    },
    showError(srcUrl, error, fallback) {
      const list = targets(srcUrl, fallback);
      for (const overlay of list) renderError(overlay, error);
      return list.length;
    },
  };
})();

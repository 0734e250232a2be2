// What the load generator reads in the app's pages: the launch id, the summary fragment's address (the P4/P6
// contract: exactly one element with `data-summary-src` on the patient page), the save form, and for errors the
// heading and reason the user was told (never record content).

const ENTITIES = { amp: '&', lt: '<', gt: '>', quot: '"', apos: "'", '#39': "'", '#34': '"', '#x27': "'" };

/** Attribute values as a browser reads them (character references decoded). */
export function unescapeHtml(text) {
  return text.replace(/&(amp|lt|gt|quot|apos|#39|#34|#x27);/g, (_, name) => ENTITIES[name]);
}

/** The launch id in a patient page's address (`/s/<id>/`), or null. */
export function launchId(url) {
  const match = /\/s\/([^/]+)\//.exec(url);
  return match ? match[1] : null;
}

/** Every `data-summary-src` value on the page (the contract wants exactly one, or none on a page without it). */
export function summarySources(html) {
  return [...html.matchAll(/\bdata-summary-src\s*=\s*(?:"([^"]*)"|'([^']*)')/g)].map((m) =>
    unescapeHtml(m[1] ?? m[2]),
  );
}

/** The summary fragment loaded as the page expects: its markup carries `data-summary-loaded`. */
export function summaryLoaded(html) {
  return /\bdata-summary-loaded\b/.test(html);
}

/** The "Save draft order" form: {action, fields} (hidden inputs, as the browser would post them), or null. */
export function saveForm(html) {
  const marker = html.indexOf('data-save-order');
  if (marker < 0) return null;
  const start = html.lastIndexOf('<form', marker);
  const end = html.indexOf('</form>', marker);
  if (start < 0 || end < 0) return null;
  const form = html.slice(start, end);
  const action = /action="([^"]+)"/.exec(form);
  if (!action) return null;
  const fields = {};
  for (const m of form.matchAll(/<input type="hidden" name="([^"]+)" value="([^"]*)"/g)) {
    fields[unescapeHtml(m[1])] = unescapeHtml(m[2]);
  }
  return { action: unescapeHtml(action[1]), fields };
}

/** The page's heading and the reason given (what the user was told), for an error report. */
export function headline(html) {
  const told = [];
  for (const pattern of [/<h[12][^>]*>([\s\S]*?)<\/h[12]>/, /<p class="reason">([\s\S]*?)<\/p>/]) {
    const match = pattern.exec(html);
    if (match) told.push(match[1].replace(/<[^>]+>|\s+/g, ' ').trim().slice(0, 120));
  }
  return told.join(': ') || '(no heading)';
}

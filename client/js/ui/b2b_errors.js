// A server refusal shown in the page's language: HTTP errors carry `reason` at the top level,
// websocket errors in `details.reason`; the text is the catalog's `b2b.err_<reason>`, else
// the server's own (English) message.
import { t } from "../i18n.js";

/** @param {any} err */
export function errorText(err) {
  const reason = err && (err.reason || (err.details && err.details.reason));
  const key = `b2b.err_${reason}`;
  const text = reason ? t(key) : key;
  return text === key ? String(err && err.message) : text;
}

// What every live page does alike: one LiveConnection with the join token from the link,
// the connection indicator, the revoked-link banner and uncaught server errors.
import { LiveConnection, tokenFromLocation, wsUrl } from "../protocol.js";
import { $, banner } from "./dom.js";
import { onLanguageChange, t } from "../i18n.js";

function showStatus(status) {
  $("conn").textContent = t(status === "open" ? "common.live" : "common.reconnecting");
  $("conn").dataset.status = status;
}

/**
 * Open the page's live connection. `handlers` are the page's own onWelcome, onEvent and
 * (optionally) onTech; the connection starts at once.
 */
export function connectPage(handlers) {
  const live = new LiveConnection({
    url: wsUrl(),
    token: tokenFromLocation(),
    onWelcome: handlers.onWelcome,
    onEvent: handlers.onEvent,
    onTech: handlers.onTech,
    onStatus(status, code) {
      showStatus(status);
      if (code === 4001 || code === 4003) {
        banner(t("common.link_invalid"));
      }
    },
    onError(msg) { banner(msg.message); },
  });
  onLanguageChange(() => { if ($("conn").dataset.status) showStatus($("conn").dataset.status); });
  live.connect();
  return live;
}

// What every live page does alike: one LiveConnection with the join token from the link,
// the connection indicator, the revoked-link banner and uncaught server errors.
import { LiveConnection, tokenFromLocation, wsUrl } from "../protocol.js";
import { $, banner } from "./dom.js";

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
      $("conn").textContent = status === "open" ? "● live" : "○ reconnecting";
      if (code === 4001 || code === 4003) {
        banner("Your join link is no longer valid. Please ask the organizers for a new one.");
      }
    },
    onError(msg) { banner(msg.message); },
  });
  live.connect();
  return live;
}

// The live agenda view: planned and expected times in the viewer's and the event's time zone.
import { clock, driftText } from "../protocol.js";
import { el } from "./dom.js";


/**
 * @param {HTMLElement} root
 * @param {any} timeline   the "timeline" object of a snapshot or event
 * @param {{eventZone: string, ownZone: string, onSelect?: Function}} zones
 */
export function renderAgenda(root, timeline, zones) {
  const { eventZone, ownZone } = zones;
  const same = eventZone === ownZone;
  root.replaceChildren();
  const status = el("p", { class: "agenda-status", "data-testid": "drift" },
    timeline.paused ? "paused (break) · " : "", driftText(timeline.drift_seconds));
  status.classList.add(timeline.drift_seconds > 59 ? "late" : timeline.drift_seconds < -59 ? "early" : "ontime");
  root.append(status);
  const head = el("tr", {}, el("th", {}, same ? `Time (${ownZone})` : `Your time (${ownZone})`));
  if (!same) head.append(el("th", {}, `Event time (${eventZone})`));
  head.append(el("th", {}, "Item"), el("th", {}, "Status"));
  const body = el("tbody");
  for (const item of timeline.items) {
    const start = item.expected_start || item.planned_start;
    const end = item.expected_end || item.planned_end;
    const moved = item.expected_start
      && clock(item.expected_start, ownZone) !== clock(item.planned_start, ownZone);
    const ownCell = el("td", {}, `${clock(start, ownZone)}–${clock(end, ownZone)}`);
    if (moved) ownCell.append(el("div", { class: "muted" }, `planned ${clock(item.planned_start, ownZone)}`));
    const row = el("tr", { class: `status-${item.status}`, "data-item": item.id }, ownCell);
    if (!same) row.append(el("td", {}, `${clock(start, eventZone)}–${clock(end, eventZone)}`));
    const title = el("td", {}, el("span", { class: "item-title" }, item.title));
    if (item.speakers && item.speakers.length) {
      title.append(el("div", { class: "muted" },
        item.speakers.map((s) => `${s.name}${s.city ? ` (${s.city})` : ""} · ${s.language}`).join("; ")));
    }
    row.append(title, el("td", { class: "item-status" }, item.status + (item.extension_minutes ? ` (+${item.extension_minutes} min)` : "")));
    if (zones.onSelect) row.addEventListener("click", () => zones.onSelect(item));
    body.append(row);
  }
  root.append(el("table", { class: "agenda" }, el("thead", {}, head), body));
}

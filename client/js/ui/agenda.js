// The live agenda view: planned and expected times in the viewer's and the event's time zone,
// rows selectable by mouse and keyboard (when the page gives onSelect), and a live region
// that announces what changed.
import { el } from "./dom.js";
import { formatTime, languageName, t } from "../i18n.js";

/** Running late/early text from seconds of drift (positive = late). */
export function driftText(seconds) {
  const minutes = Math.round(Math.abs(seconds) / 60);
  if (minutes === 0) return t("agenda.on_time");
  return t(seconds > 0 ? "agenda.late" : "agenda.early", { minutes });
}

/**
 * @param {HTMLElement} root
 * @param {any} timeline   the "timeline" object of a snapshot or event
 * @param {{eventZone: string, ownZone: string, onSelect?: Function, selected?: string|null}} zones
 */
export function renderAgenda(root, timeline, zones) {
  const { eventZone, ownZone } = zones;
  const same = eventZone === ownZone;
  const span = (a, b, zone) => `${formatTime(a, zone)}–${formatTime(b, zone)}`;
  root.replaceChildren();
  const status = el("p", { class: "agenda-status", "data-testid": "drift" },
    timeline.paused ? t("agenda.paused") : "", driftText(timeline.drift_seconds));
  status.classList.add(timeline.drift_seconds > 59 ? "late" : timeline.drift_seconds < -59 ? "early" : "ontime");
  root.append(status);
  const ownLabel = t(same ? "agenda.time" : "agenda.your_time", { zone: ownZone });
  const eventLabel = t("agenda.event_time", { zone: eventZone });
  const head = el("tr", {}, el("th", { scope: "col" }, ownLabel));
  if (!same) head.append(el("th", { scope: "col" }, eventLabel));
  head.append(el("th", { scope: "col" }, t("agenda.item")), el("th", { scope: "col" }, t("agenda.status")));
  const body = el("tbody");
  for (const item of timeline.items) {
    const start = item.expected_start || item.planned_start;
    const end = item.expected_end || item.planned_end;
    const moved = item.expected_start
      && formatTime(item.expected_start, ownZone) !== formatTime(item.planned_start, ownZone);
    const ownCell = el("td", { class: "time", "data-label": ownLabel }, span(start, end, ownZone));
    if (moved) {
      ownCell.append(el("div", { class: "muted" },
        t("agenda.planned", { time: formatTime(item.planned_start, ownZone) })));
    }
    const row = el("tr", { class: `status-${item.status}`, "data-item": item.id }, ownCell);
    if (!same) row.append(el("td", { class: "time", "data-label": eventLabel }, span(start, end, eventZone)));
    const title = el("td", { class: "title" }, el("span", { class: "item-title" }, item.title));
    if (item.speakers && item.speakers.length) {
      title.append(el("div", { class: "muted" },
        item.speakers.map((s) => `${s.name}${s.city ? ` (${s.city})` : ""} · ${languageName(s.language)}`).join("; ")));
    }
    const extension = item.extension_minutes ? t("agenda.extended", { minutes: item.extension_minutes }) : "";
    row.append(title, el("td", { class: "item-status", "data-status": item.status },
      t(`status.${item.status}`) + extension));
    if (zones.onSelect) {
      const select = zones.onSelect;
      row.tabIndex = 0;
      row.setAttribute("aria-selected", String(zones.selected === item.id));
      row.addEventListener("click", () => select(item));
      row.addEventListener("keydown", (ev) => {
        if (ev.key === "Enter" || ev.key === " ") { ev.preventDefault(); select(item); }
      });
    }
    body.append(row);
  }
  const table = el("table", { class: "agenda" }, el("thead", {}, head), body);
  if (zones.onSelect) table.setAttribute("role", "grid");
  // A region that may scroll sideways on a narrow column: focusable, so keys scroll it too.
  const scroller = el("div", { class: "table-scroll", tabIndex: 0 }, table);
  scroller.setAttribute("role", "region");
  scroller.setAttribute("aria-label", t("agenda.title"));
  root.append(scroller);
}

/** Announce in `region` (an aria-live element) the items whose status changed. */
export function announceChanges(region, before, after) {
  if (!region || !before || !after) return;
  const old = new Map(before.items.map((i) => [i.id, i.status]));
  const changed = after.items.filter((i) => old.get(i.id) !== i.status);
  region.textContent = changed
    .map((i) => t("agenda.changed", { title: i.title, status: t(`status.${i.status}`) }))
    .join(" ");
}

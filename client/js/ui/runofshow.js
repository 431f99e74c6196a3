// The run-of-show on a page: the current item's time left (or over), counted on the server's
// clock from the instants the server sends, turning to warning and danger at the item's
// thresholds; "running late by N min"; and the next-up cue. The server publishes whenever
// its clock changes any of these (session/runofshow.py); only the seconds run here.
import { countdown } from "./countdown.js";
import { el } from "./dom.js";
import { t } from "../i18n.js";

/**
 * @param {HTMLElement} root
 * @param {() => any} snapshot  the page's snapshot (with run_of_show, timeline, server_time)
 * @param {{cue?: boolean}} [options]  cue: show the next-up cue (the booth has its own)
 */
export function mountRunOfShow(root, snapshot, options = {}) {
  let offset = 0; // the server's clock minus ours
  let announced = "none";
  const clock = el("span", { class: "countdown", "data-testid": "countdown" });
  clock.setAttribute("role", "timer");
  const late = el("span", { class: "ros-late late", "data-testid": "running-late" });
  const cue = el("p", { class: "ros-cue", "data-testid": "next-up" });
  const say = el("span", { class: "visually-hidden" });
  say.setAttribute("role", "status");
  root.replaceChildren(el("p", { class: "ros-line" }, clock, " ", late), cue, say);

  function render() {
    const snap = snapshot();
    const ros = snap?.run_of_show;
    if (!ros) return;
    const now = Date.now() + offset;
    const left = countdown(snap.timeline, ros, now);
    const phase = left.phase;
    const item = snap.timeline?.items?.find((/** @type {any} */ i) => i.id === ros.current);
    const title = item?.title || "";
    clock.textContent = phase === "none" ? ""
      : t(phase === "overrun" ? "agenda.overrun" : "agenda.countdown", { title, time: left.text });
    root.dataset.phase = phase;
    clock.dataset.phase = phase;
    late.textContent = ros.late_minutes > 0 ? t("agenda.late", { minutes: ros.late_minutes }) : "";
    const next = ros.next;
    const due = !!next && now >= Date.parse(next.cue_at); // until the item starts
    cue.hidden = !(due && options.cue !== false);
    if (due) {
      const minutes = Math.max(0, Math.ceil((Date.parse(next.starts_at) - now) / 60000));
      cue.textContent = t(minutes ? "agenda.next_up" : "agenda.next_up_now", { minutes, title: next.title })
        + (next.speakers.length ? ` · ${next.speakers.join(", ")}` : "");
    }
    // a screen reader hears the phase change once, not every second
    if (phase !== announced) {
      say.textContent = ["warning", "danger", "overrun"].includes(phase) ? t(`agenda.phase_${phase}`) : "";
      announced = phase;
    }
    root.hidden = phase === "none" && cue.hidden && !late.textContent;
  }

  setInterval(render, 1000);
  return {
    render,
    /** A welcome: the snapshot's run-of-show and the server's clock. */
    welcome(/** @type {any} */ snap) {
      offset = Date.parse(snap.server_time) - Date.now();
      render();
    },
    /** An event: a timeline change or the clock's own carries the run-of-show (and the
     * clock's carries the moved timeline). */
    follow(/** @type {any} */ msg) {
      const snap = snapshot();
      if (!snap || !msg.data?.run_of_show) return;
      snap.run_of_show = msg.data.run_of_show;
      offset = Date.parse(msg.data.run_of_show.at) - Date.now();
      if (msg.name === "run_of_show") snap.timeline = msg.data.timeline;
      render();
    },
  };
}

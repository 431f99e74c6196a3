// The current item's countdown, counted locally from instants the server sends: the
// run-of-show's end, warning and danger instants when the session publishes them, else the
// current item's end from the timeline (its planned duration, extensions and pauses).

const WARNING_MS = 5 * 60000; // the settings' defaults, used until the run-of-show says
const DANGER_MS = 60000;

/** "m:ss", or "h:mm:ss" from an hour on. */
export function clock(ms) {
  const total = Math.floor(Math.abs(ms) / 1000);
  const h = Math.floor(total / 3600);
  const m = Math.floor((total % 3600) / 60);
  const s = String(total % 60).padStart(2, "0");
  return h ? `${h}:${String(m).padStart(2, "0")}:${s}` : `${m}:${s}`;
}

/**
 * The countdown of the timeline's current item at `now` (ms, server clock).
 * @param {any} tl  a snapshot's timeline
 * @param {any} ros  the run-of-show (ends_at, warning_at, danger_at) when the server sends it
 * @param {number} now
 * @returns {{phase: "none"|"normal"|"warning"|"danger"|"overrun", text: string, ms: number}}
 */
export function countdown(tl, ros, now) {
  const item = tl?.items?.find((/** @type {any} */ i) => i.id === tl.current);
  if (!item || (item.status !== "live" && item.status !== "paused")) return { phase: "none", text: "", ms: 0 };
  let end;
  let warning;
  let danger;
  let at = now;
  if (ros?.ends_at && ros.current === item.id) {
    end = Date.parse(ros.ends_at);
    warning = Date.parse(ros.warning_at);
    danger = Date.parse(ros.danger_at);
  } else {
    // the timeline's expected end never lies before its own clock ("ends any moment"): past
    // that, the end the plan gave it (start + duration + extension) tells by how much it runs over
    const asOf = Date.parse(tl.as_of || "") || now;
    const expected = Date.parse(item.expected_end);
    const planned = Date.parse(item.actual_start || item.expected_start)
      + (Date.parse(item.planned_end) - Date.parse(item.planned_start)) + (item.extension_minutes || 0) * 60000;
    end = expected > asOf ? expected : Math.min(expected, planned);
    warning = end - WARNING_MS;
    danger = end - DANGER_MS;
    // while paused the end moves with the clock: the time left stands still
    if (tl.paused) at = asOf;
  }
  const ms = end - at;
  const phase = at >= end ? "overrun" : at >= danger ? "danger" : at >= warning ? "warning" : "normal";
  return { phase, text: clock(ms), ms };
}

// What a listener hears on a channel right now (no DOM): decided from the snapshot's floor
// and routing, which the server sends with every floor and booth change.

/**
 * The original (the listener chose the floor's language, or the channel carries the floor
 * while the one on screen speaks the listener's language: the floor language follows a
 * speaker a few seconds late, and a moderator may hold it), an interpretation, or the
 * original because no interpreter is live in that booth (fallback).
 * @param {any} snapshot
 * @param {string} channel
 * @returns {{kind: "original" | "interpretation" | "fallback", language: string}}
 */
export function hearing(snapshot, channel) {
  const floorLanguage = snapshot.floor?.language || snapshot.event.floor_language;
  if (channel === floorLanguage) return { kind: "original", language: floorLanguage };
  const source = snapshot.routing?.channels?.[channel];
  if (!source || source.kind === "floor") {
    const floor = snapshot.floor;
    const shown = (floor?.live || []).find((/** @type {any} */ s) => s.person_id === floor.shown);
    if (shown?.language === channel) return { kind: "original", language: channel };
    return { kind: "fallback", language: floorLanguage };
  }
  return { kind: "interpretation", language: channel };
}

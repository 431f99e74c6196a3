// What a listener hears on a channel right now (no DOM): decided from the snapshot's floor
// and routing, which the server sends with every floor and booth change.

/**
 * The original (the listener chose the floor's language), an interpretation, or the
 * original because no interpreter is live in that booth (fallback).
 * @param {any} snapshot
 * @param {string} channel
 * @returns {{kind: "original" | "interpretation" | "fallback", language: string}}
 */
export function hearing(snapshot, channel) {
  const floorLanguage = snapshot.floor?.language || snapshot.event.floor_language;
  if (channel === floorLanguage) return { kind: "original", language: floorLanguage };
  const source = snapshot.routing?.channels?.[channel];
  if (!source || source.kind === "floor") return { kind: "fallback", language: floorLanguage };
  return { kind: "interpretation", language: channel };
}

// Package edge of the local GCS emulator: what the rest of Batchline imports.
export type { GcsEmulator, GcsEmulatorOptions } from "./emulator.ts";
export { startGcsEmulator } from "./emulator.ts";
export type { ChangeEvent, ChangeListener, EventType } from "./notifications/events.ts";
export { EVENT_TYPES } from "./notifications/events.ts";

// Package edge of the local Cloud Logging endpoint: task logs of the local Batch, served as entries.list.
export { lineEntry, TASK_LOG_ID, TaskLogEntries, taskIdLabel } from "./entries.ts";
export { entryMatches, type FilterableEntry, type FilterNode, parseLogFilter, SEVERITY } from "./filter.ts";
export { type LoggingServer, listEntries, startLoggingServer } from "./server.ts";

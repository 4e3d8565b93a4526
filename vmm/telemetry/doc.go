// Package telemetry writes what a running VM reports to programs:
// Firecracker-style metrics as JSON lines (Metrics) and the destinations
// the logger and metrics write to (OpenOutput), named pipes included.
package telemetry

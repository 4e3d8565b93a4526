//go:build linux

package hostcheck

import (
	"fmt"
	"io"
	"strings"
)

// ANSI colours for the status column on a terminal.
const (
	colorGreen  = "\x1b[32m"
	colorYellow = "\x1b[33m"
	colorRed    = "\x1b[31m"
	colorReset  = "\x1b[0m"
)

// WriteTable prints the report as an aligned table: name, status, detail,
// and for anything short of pass the fix on an indented line below.
// color adds ANSI colours (only for a terminal).
func WriteTable(w io.Writer, r Report, color bool) error {
	width := len("CHECK")
	for _, c := range r.Checks {
		width = max(width, len(c.Name))
	}
	var b strings.Builder
	fmt.Fprintf(&b, "%-*s  %-6s  %s\n", width, "CHECK", "STATUS", "DETAIL")
	for _, c := range r.Checks {
		status := fmt.Sprintf("%-6s", strings.ToUpper(string(c.Status)))
		if color {
			status = statusColor(c.Status) + status + colorReset
		}
		fmt.Fprintf(&b, "%-*s  %s  %s\n", width, c.Name, status, c.Detail)
		if c.Status != Pass && c.Fix != "" {
			fmt.Fprintf(&b, "%-*s  %-6s  fix: %s\n", width, "", "", c.Fix)
		}
	}
	nf, nw := 0, 0
	for _, c := range r.Checks {
		switch c.Status {
		case Fail:
			nf++
		case Warn:
			nw++
		}
	}
	switch {
	case nf > 0:
		fmt.Fprintf(&b, "\n%d of %d checks failed: this host cannot run VMs until they are fixed.\n", nf, len(r.Checks))
	case nw > 0:
		fmt.Fprintf(&b, "\nAll checks passed, %d with warnings: this host can run VMs.\n", nw)
	default:
		fmt.Fprintf(&b, "\nAll %d checks passed: this host can run VMs.\n", len(r.Checks))
	}
	_, err := io.WriteString(w, b.String())
	return err
}

func statusColor(s Status) string {
	switch s {
	case Pass:
		return colorGreen
	case Warn:
		return colorYellow
	}
	return colorRed
}

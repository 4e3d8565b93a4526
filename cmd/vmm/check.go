package main

import (
	"encoding/json"
	"fmt"
	"strings"

	"github.com/spf13/cobra"
	"golang.org/x/term"

	"vmm/kvm"
	"vmm/vmm/hostcheck"
)

func newCheckCommand() *cobra.Command {
	var (
		asJSON, boot bool
		device       string
	)
	cmd := &cobra.Command{
		Use:   "check",
		Short: "Check that this host can run VMs and say what to fix",
		Long: "check opens the KVM device, asks it for the API version and the extensions vmm\n" +
			"uses, creates a throwaway VM, sets up an io_uring and probes its opcodes, and\n" +
			"reads the limits that matter and the kernel's sandboxing features (seccomp,\n" +
			"no_new_privs, Landlock). Each check passes, warns or fails; anything short\n" +
			"of a pass comes with a fix. When those pass, it boots the built-in tiny kernel on\n" +
			"2 vCPUs (--boot=false skips this) and times a loop in it, which shows whether\n" +
			"guests run natively or through KVM's instruction emulator.\n" +
			"Exit status 0 when nothing failed, 1 otherwise.\n" +
			"See docs/check.md.",
		Args: cobra.NoArgs,
		RunE: func(cmd *cobra.Command, args []string) error {
			if strings.TrimSpace(device) == "" {
				return usagef("--device needs a path, e.g. --device %s", kvm.DefaultDevice)
			}
			r := hostcheck.Run(hostcheck.Options{Device: device})
			if boot && r.OK {
				r = withBootChecks(r, device)
			}
			out := stdout()
			if asJSON {
				b, err := json.MarshalIndent(r, "", "  ")
				if err != nil {
					return fmt.Errorf("encoding the report: %w", err)
				}
				if _, err := out.Write(append(b, '\n')); err != nil {
					return err
				}
			} else if err := hostcheck.WriteTable(out, r, term.IsTerminal(int(out.Fd()))); err != nil {
				return err
			}
			if !r.OK {
				failed := r.Failed()
				return &exitError{code: 1, msg: fmt.Sprintf("check failed: %d of %d checks, starting with %s (fixes above)", len(failed), len(r.Checks), failed[0].Name)}
			}
			return nil
		},
	}
	cmd.Flags().BoolVar(&asJSON, "json", false, `print one JSON object {"ok": bool, "checks": [{"name","status","detail","fix"}...]}`)
	cmd.Flags().StringVar(&device, "device", kvm.DefaultDevice, "the KVM device node to check")
	cmd.Flags().BoolVar(&boot, "boot", true, "when the other checks pass, boot the built-in tiny kernel on 2 vCPUs and time a loop in it")
	return cmd
}

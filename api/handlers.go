package api

import (
	"fmt"
	"net/http"

	"vmm/vmm/fcconfig"
)

// instanceInfo is GET /'s body (swagger InstanceInfo).
type instanceInfo struct {
	ID         string `json:"id"`
	State      State  `json:"state"`
	VMMVersion string `json:"vmm_version"`
	AppName    string `json:"app_name"`
}

func (s *Server) getInstance(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, instanceInfo{ID: s.opts.ID, State: s.state, VMMVersion: s.opts.Version, AppName: AppName})
}

// getVersion answers with vmm's version in Firecracker's field.
func (s *Server) getVersion(w http.ResponseWriter) {
	writeJSON(w, http.StatusOK, struct {
		Version string `json:"firecracker_version"`
	}{s.opts.Version})
}

// configure is the shape of every pre-boot PUT and PATCH: refused once the
// VM runs, the body decoded strictly into T, then applied; any failure is a
// 400 with the reason as the fault message.
func configure[T any](s *Server, w http.ResponseWriter, r *http.Request, apply func(T) error) {
	if !s.preBoot(w, r) {
		return
	}
	var v T
	if err := decodeBody(r, &v); err != nil {
		badRequest(w, r, "%v", err)
		return
	}
	if err := apply(v); err != nil {
		badRequest(w, r, "%v", err)
		return
	}
	noContent(w)
}

func (s *Server) putMachineConfig(w http.ResponseWriter, r *http.Request, patch bool) {
	configure(s, w, r, func(mc fcconfig.MachineConfig) error { return s.res.SetMachine(mc, patch) })
}

func (s *Server) putBootSource(w http.ResponseWriter, r *http.Request) {
	configure(s, w, r, s.res.SetBootSource)
}

func (s *Server) putDrive(w http.ResponseWriter, r *http.Request, id string) {
	configure(s, w, r, func(d fcconfig.Drive) error {
		if d.DriveID != id {
			return fmt.Errorf("the drive_id in the body (%q) differs from the one in the path (%q)", d.DriveID, id)
		}
		return s.res.PutDrive(d)
	})
}

// patchDrive puts a new image behind a drive of the running VM; the guest
// gets a configuration-change interrupt.
func (s *Server) patchDrive(w http.ResponseWriter, r *http.Request, id string) {
	if !s.postBoot(w, r) {
		return
	}
	var d fcconfig.PartialDrive
	if err := decodeBody(r, &d); err != nil {
		badRequest(w, r, "%v", err)
		return
	}
	if d.DriveID != id {
		badRequest(w, r, "the drive_id in the body (%q) differs from the one in the path (%q)", d.DriveID, id)
		return
	}
	i := s.res.DriveIndex(id)
	if i < 0 {
		badRequest(w, r, "no drive %q: the VM's drives are %s", id, driveIDs(s.res))
		return
	}
	if d.PathOnHost == nil {
		noContent(w) // nothing to change (a rate_limiter would have been refused)
		return
	}
	if *d.PathOnHost == "" {
		badRequest(w, r, "path_on_host is empty: give the path of the new image")
		return
	}
	if err := s.opts.Machine.UpdateDrive(i, *d.PathOnHost); err != nil {
		badRequest(w, r, "drive %s: %v", id, err)
		return
	}
	s.res.Drives[i].Path = *d.PathOnHost
	noContent(w)
}

func driveIDs(res *fcconfig.Resources) string {
	if len(res.Drives) == 0 {
		return "none"
	}
	out := ""
	for i, d := range res.Drives {
		if i > 0 {
			out += ", "
		}
		out += d.ID
	}
	return out
}

func (s *Server) putLogger(w http.ResponseWriter, r *http.Request) {
	configure(s, w, r, func(l fcconfig.Logger) error {
		next := *s.res
		lc, err := next.SetLogger(l)
		if err != nil {
			return err
		}
		if err := s.opts.Machine.ConfigureLogger(lc); err != nil {
			return fmt.Errorf("logger: %v", err)
		}
		s.res.Logger = next.Logger
		return nil
	})
}

func (s *Server) putMetrics(w http.ResponseWriter, r *http.Request) {
	configure(s, w, r, func(m fcconfig.Metrics) error {
		next := *s.res
		if err := next.SetMetrics(m); err != nil {
			return err
		}
		if err := s.opts.Machine.ConfigureMetrics(m.MetricsPath); err != nil {
			return fmt.Errorf("metrics: %v", err)
		}
		s.res.Metrics = next.Metrics
		return nil
	})
}

func (s *Server) putAction(w http.ResponseWriter, r *http.Request) {
	var a fcconfig.Action
	if err := decodeBody(r, &a); err != nil {
		badRequest(w, r, "%v", err)
		return
	}
	switch a.ActionType {
	case fcconfig.ActionInstanceStart:
		if !s.preBoot(w, r) {
			return
		}
		if err := s.opts.Machine.Start(s.res); err != nil {
			badRequest(w, r, "InstanceStart: %v", err)
			return
		}
		s.state = StateRunning
	case fcconfig.ActionSendCtrlAltDel:
		if !s.postBoot(w, r) {
			return
		}
		if err := s.opts.Machine.SendCtrlAltDel(); err != nil {
			badRequest(w, r, "SendCtrlAltDel: %v", err)
			return
		}
	case fcconfig.ActionFlushMetrics:
		if s.res.Metrics == "" {
			badRequest(w, r, "FlushMetrics: no metrics are configured: PUT /metrics first")
			return
		}
		if err := s.opts.Machine.FlushMetrics(); err != nil {
			badRequest(w, r, "FlushMetrics: %v", err)
			return
		}
	default:
		badRequest(w, r, "action_type %q: use InstanceStart, SendCtrlAltDel or FlushMetrics", a.ActionType)
		return
	}
	noContent(w)
}

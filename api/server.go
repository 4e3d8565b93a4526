package api

import (
	"context"
	"errors"
	"net"
	"net/http"
	"sync"
	"time"

	"github.com/sirupsen/logrus"

	"vmm/vmm/fcconfig"
)

// State is the instance state GET / reports (InstanceInfo.state).
type State string

const (
	StateNotStarted State = "Not started"
	StateRunning    State = "Running"
)

// Options configure a Server.
type Options struct {
	ID      string // instance id (GET /); "anonymous-instance" when empty, as Firecracker's
	Version string // vmm's version (GET /, GET /version)
	Machine Machine
	// Resources is the configuration so far (from vmm's flags and
	// --config-file); the server owns it from now on.
	Resources *fcconfig.Resources
	// Running says the VM was already started (with --config-file): the
	// API then serves only what applies to a running VM.
	Running bool
}

// AppName is GET /'s app_name.
const AppName = "vmm"

// Server serves the API. Requests are carried out one at a time, as
// Firecracker's API thread does.
type Server struct {
	opts Options

	mu    sync.Mutex // serialises requests; guards res and state
	res   *fcconfig.Resources
	state State

	http *http.Server
}

// Limits on clients: a client that stalls or floods the socket ties up at
// most these, never the VM.
const (
	maxConns          = 64
	readHeaderTimeout = 10 * time.Second
	readTimeout       = 30 * time.Second
	writeTimeout      = 30 * time.Second
	idleTimeout       = 120 * time.Second
	maxHeaderBytes    = 16 << 10
)

// New returns a server; Serve starts it.
func New(opts Options) *Server {
	if opts.ID == "" {
		opts.ID = "anonymous-instance"
	}
	s := &Server{opts: opts, res: opts.Resources, state: StateNotStarted}
	if opts.Running {
		s.state = StateRunning
	}
	s.http = &http.Server{
		Handler:           s,
		ReadHeaderTimeout: readHeaderTimeout,
		ReadTimeout:       readTimeout,
		WriteTimeout:      writeTimeout,
		IdleTimeout:       idleTimeout,
		MaxHeaderBytes:    maxHeaderBytes,
		ErrorLog:          nil,
	}
	return s
}

// Serve accepts connections on l until Close. It returns nil after Close.
func (s *Server) Serve(l net.Listener) error {
	err := s.http.Serve(limitListener(l, maxConns))
	if errors.Is(err, http.ErrServerClosed) {
		return nil
	}
	return err
}

// Close stops accepting connections and waits (briefly) for requests in
// progress, so that none reaches a VM being torn down.
func (s *Server) Close() {
	ctx, cancel := context.WithTimeout(context.Background(), 5*time.Second)
	defer cancel()
	if err := s.http.Shutdown(ctx); err != nil {
		_ = s.http.Close()
	}
}

// State reports the instance state.
func (s *Server) State() State {
	s.mu.Lock()
	defer s.mu.Unlock()
	return s.state
}

// ServeHTTP carries out one request.
func (s *Server) ServeHTTP(w http.ResponseWriter, r *http.Request) {
	defer func() {
		if p := recover(); p != nil {
			logrus.WithField("panic", p).Error("API handler panicked: this is a bug in vmm")
			writeJSON(w, http.StatusInternalServerError, fault{FaultMessage: "internal error in vmm's API server"})
		}
	}()
	logrus.WithFields(logrus.Fields{"method": r.Method, "path": r.URL.Path}).Debug("API request")
	s.mu.Lock()
	defer s.mu.Unlock()
	s.route(w, r)
}

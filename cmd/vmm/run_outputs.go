package main

import (
	"errors"
	"io"

	"github.com/sirupsen/logrus"
	"github.com/spf13/cobra"

	"vmm/vmm/fcconfig"
	"vmm/vmm/telemetry"
)

// configureOutputs applies the configuration file's logger and metrics
// sections. An explicit --log-level overrides the file's level.
func (r *runner) configureOutputs(cmd *cobra.Command) error {
	res := r.plan.res
	if res.Logger != nil {
		lc := *res.Logger
		if cmd.Flags().Changed("log-level") {
			lc.Level = "" // keep the flag's
		}
		if err := r.ConfigureLogger(lc); err != nil {
			return usagef("config file %s: logger: %v", r.plan.f.configFile, err)
		}
	}
	if res.Metrics != "" {
		if err := r.ConfigureMetrics(res.Metrics); err != nil {
			return usagef("config file %s: metrics: %v", r.plan.f.configFile, err)
		}
	}
	return nil
}

// ConfigureLogger points vmm's log at lc.Path (a file or named pipe) with
// lc's level; an empty Level leaves the level alone. Part of api.Machine.
func (r *runner) ConfigureLogger(lc fcconfig.LoggerConfig) error {
	var out *telemetry.Output
	if lc.Path != "" {
		var err error
		if out, err = telemetry.OpenOutput(lc.Path); err != nil {
			return err
		}
	}
	r.mu.Lock()
	defer r.mu.Unlock()
	if out != nil {
		logrus.SetOutput(out)
		if r.logOut != nil {
			_ = r.logOut.Close()
		}
		r.logOut = out
	}
	switch lc.Level {
	case fcconfig.LevelError:
		logrus.SetLevel(logrus.ErrorLevel)
	case fcconfig.LevelWarning:
		logrus.SetLevel(logrus.WarnLevel)
	case fcconfig.LevelInfo:
		logrus.SetLevel(logrus.InfoLevel)
	case fcconfig.LevelDebug:
		logrus.SetLevel(logrus.DebugLevel)
	case fcconfig.LevelTrace:
		logrus.SetLevel(logrus.TraceLevel)
	case fcconfig.LevelOff:
		logrus.SetLevel(logrus.PanicLevel)
		if out == nil {
			logrus.SetOutput(io.Discard)
		}
	}
	logrus.SetReportCaller(lc.ShowOrigin)
	return nil
}

// ConfigureMetrics starts writing metrics to path every minute (and on
// FlushMetrics, and at exit). Part of api.Machine.
func (r *runner) ConfigureMetrics(path string) error {
	out, err := telemetry.OpenOutput(path)
	if err != nil {
		return err
	}
	m := telemetry.NewMetrics(out)
	r.mu.Lock()
	defer r.mu.Unlock()
	if r.metrics != nil {
		_ = out.Close()
		return errors.New("metrics are already configured: they can be configured only once")
	}
	if r.vm != nil {
		m.Attach(r.vm.Stats, r.drives)
	}
	m.Start(telemetry.Interval)
	r.metrics = m
	return nil
}

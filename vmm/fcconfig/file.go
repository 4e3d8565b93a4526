package fcconfig

import (
	"errors"
	"fmt"
	"io"
	"os"
)

// maxFileSize bounds a configuration file: a real one is a few KiB.
const maxFileSize = 1 << 20

// ApplyFile reads a Firecracker configuration file and applies each of
// its sections to r through the same setters as the API's requests.
// Errors name the file and the key.
func (r *Resources) ApplyFile(path string) error {
	f, err := os.Open(path)
	if err != nil {
		if errors.Is(err, os.ErrNotExist) {
			return fmt.Errorf("config file %s does not exist", path)
		}
		return fmt.Errorf("config file %s: %v", path, err)
	}
	defer f.Close()
	if st, err := f.Stat(); err == nil && !st.Mode().IsRegular() {
		return fmt.Errorf("config file %s is not a regular file", path)
	}
	data, err := io.ReadAll(io.LimitReader(f, maxFileSize+1))
	if err != nil {
		return fmt.Errorf("config file %s: %v", path, err)
	}
	if len(data) > maxFileSize {
		return fmt.Errorf("config file %s is larger than %d KiB: not a configuration", path, maxFileSize>>10)
	}
	if err := r.applyFile(data); err != nil {
		return fmt.Errorf("config file %s: %w", path, err)
	}
	return nil
}

// applyFile applies a configuration document; nothing changes on error.
func (r *Resources) applyFile(data []byte) error {
	var file File
	if err := decode(data, "", &file); err != nil {
		return err
	}
	if file.MMDSVersion != nil && *file.MMDSVersion != "V1" && *file.MMDSVersion != "V2" {
		return fmt.Errorf("mmds-version %q: use V1 or V2 (or leave it out: vmm has no MMDS)", *file.MMDSVersion)
	}
	next := *r
	next.Drives = append([]DriveConfig(nil), r.Drives...)
	if file.Machine != nil {
		if err := next.SetMachine(*file.Machine, false); err != nil {
			return fmt.Errorf("machine-config: %w", err)
		}
	}
	if file.BootSource != nil {
		if err := next.SetBootSource(*file.BootSource); err != nil {
			return fmt.Errorf("boot-source: %w", err)
		}
	}
	if file.Drives != nil {
		next.Drives = nil
		for i, d := range file.Drives {
			if err := next.PutDrive(d); err != nil {
				return fmt.Errorf("drives[%d]: %w", i, err)
			}
		}
	}
	if file.Logger != nil {
		if _, err := next.SetLogger(*file.Logger); err != nil {
			return fmt.Errorf("logger: %w", err)
		}
	}
	if file.Metrics != nil {
		next.Metrics = ""
		if err := next.SetMetrics(*file.Metrics); err != nil {
			return fmt.Errorf("metrics: %w", err)
		}
	}
	*r = next
	return nil
}

// Decode decodes an API request body into dst (a pointer to one of this
// package's request types) as strictly as a configuration file.
func Decode(body []byte, dst any) error { return decode(body, "", dst) }

package api

import (
	"errors"
	"fmt"
	"net"
	"os"
	"syscall"
	"time"
)

// Listen creates the API socket at path with mode 0600 (only vmm's user
// may drive the VM). A socket left behind by a VMM that died is replaced;
// one that something still answers on, or a path that is not a socket, is
// refused. The socket file is removed when the listener closes.
func Listen(path string) (*net.UnixListener, error) {
	if err := clearStale(path); err != nil {
		return nil, err
	}
	// The umask decides the mode bind gives the socket: narrow it for the
	// bind, so that the socket is never more open than 0600.
	old := syscall.Umask(0o177)
	l, err := net.ListenUnix("unix", &net.UnixAddr{Name: path, Net: "unix"})
	syscall.Umask(old)
	if err != nil {
		return nil, fmt.Errorf("--api-sock %s: %v", path, err)
	}
	l.SetUnlinkOnClose(true)
	if err := os.Chmod(path, 0o600); err != nil {
		l.Close()
		return nil, fmt.Errorf("--api-sock %s: %v", path, err)
	}
	return l, nil
}

// clearStale removes a dead socket at path and refuses anything else.
func clearStale(path string) error {
	fi, err := os.Lstat(path)
	if errors.Is(err, os.ErrNotExist) {
		return nil
	}
	if err != nil {
		return fmt.Errorf("--api-sock %s: %v", path, err)
	}
	if fi.Mode()&os.ModeSocket == 0 {
		return fmt.Errorf("--api-sock %s exists and is not a socket: remove it or choose another path", path)
	}
	c, err := net.DialTimeout("unix", path, time.Second)
	if err == nil {
		c.Close()
		return fmt.Errorf("--api-sock %s is in use: another process serves on it; stop it or choose another path", path)
	}
	if !errors.Is(err, syscall.ECONNREFUSED) {
		return fmt.Errorf("--api-sock %s exists and cannot be checked (%v): remove it if no VMM uses it", path, err)
	}
	if err := os.Remove(path); err != nil {
		return fmt.Errorf("--api-sock %s: removing the stale socket: %v", path, err)
	}
	return nil
}

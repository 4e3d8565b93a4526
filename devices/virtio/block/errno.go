package block

import "golang.org/x/sys/unix"

func syscallErrno(e int32) error { return unix.Errno(e) }

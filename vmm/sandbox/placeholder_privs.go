package sandbox

// Temporary no-op stand-ins for privileges.go and landlock.go, which come
// from another branch; this file goes when that branch is merged.

// DropPrivileges is a placeholder: it changes nothing.
func DropPrivileges(uid, gid int) error { return nil }

// RestrictFiles is a placeholder: it installs no Landlock ruleset.
func RestrictFiles(paths []Path) (abi int, err error) { return 0, nil }

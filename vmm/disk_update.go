package vmm

import (
	"errors"
	"fmt"
	"os"

	"github.com/sirupsen/logrus"
	"golang.org/x/sys/unix"

	"vmm/devices/virtio/block"
)

// attachedDisk is a disk as the running VM serves it: the image, the
// virtio device, its slot, and how often it was replaced.
// Fields are guarded by VM.diskMu.
type attachedDisk struct {
	img                  *diskImage
	dev                  *block.Device
	slot                 *virtioDevice
	updates, updateFails uint64
}

// errDisksClosed is UpdateDisk's answer once Close has begun.
var errDisksClosed = errors.New("the VM is shutting down")

// UpdateDisk puts the image at path behind disk index (in Config.Disks
// order) while the guest runs, with the disk's other settings unchanged,
// and tells the guest with a configuration-change interrupt: Linux then
// re-reads the capacity. This is Firecracker's PATCH /drives/{id} with a
// new path_on_host. The same path re-reads the size of the current image
// (which may have grown). Safe from any goroutine.
func (vm *VM) UpdateDisk(index int, path string) error {
	vm.diskMu.Lock()
	defer vm.diskMu.Unlock()
	if vm.disksClosed {
		return errDisksClosed
	}
	if index < 0 || index >= len(vm.attached) {
		return fmt.Errorf("no disk %d: the VM has %d", index, len(vm.attached))
	}
	d := vm.attached[index]
	err := vm.replaceImage(index, d, path)
	if err != nil {
		d.updateFails++
		return err
	}
	d.updates++
	d.slot.transport.ConfigChanged()
	logrus.WithFields(logrus.Fields{"disk": d.img.cfg.ID, "path": path, "size": FormatSize(d.img.size)}).Info("disk image replaced")
	return nil
}

// replaceImage opens path like the disk's first image and switches the
// device to it. Preconditions: vm.diskMu held.
func (vm *VM) replaceImage(index int, d *attachedDisk, path string) error {
	cfg := d.img.cfg
	cfg.Path = path
	img, err := reopenIfSame(d.img, path)
	if err == nil && img == nil {
		img, err = openDisk(cfg)
	}
	if err != nil {
		return err
	}
	if img.blockSize() != d.img.blockSize() {
		img.close()
		return fmt.Errorf("disk %s: its block size would change from %d to %d bytes: the guest cannot follow that", path, d.img.blockSize(), img.blockSize())
	}
	be, _, err := newDiskBackend(img, d.slot.notify[0].fd)
	if err != nil {
		img.close()
		return err
	}
	if err := d.dev.Replace(be, img.size/block.SectorSize); err != nil {
		be.Close()
		img.close()
		return fmt.Errorf("disk %s: %w", path, err)
	}
	d.img.close() // the device no longer uses it
	d.img = img
	vm.disks[index] = img
	return nil
}

// reopenIfSame returns a second handle on cur when path names the same
// file (opening it afresh would collide with our own lock), with its size
// read again; nil when path is another file.
func reopenIfSame(cur *diskImage, path string) (*diskImage, error) {
	var st, curSt unix.Stat_t
	if unix.Stat(path, &st) != nil || unix.Fstat(int(cur.file.Fd()), &curSt) != nil ||
		st.Dev != curSt.Dev || st.Ino != curSt.Ino {
		return nil, nil
	}
	fd, err := unix.FcntlInt(cur.file.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		return nil, fmt.Errorf("disk %s: %v", path, err)
	}
	lockFD, err := unix.FcntlInt(cur.lock.Fd(), unix.F_DUPFD_CLOEXEC, 0)
	if err != nil {
		unix.Close(fd)
		return nil, fmt.Errorf("disk %s: %v", path, err)
	}
	cfg := cur.cfg
	cfg.Path = path
	// The same lock carries over (a duplicate of its description).
	img := &diskImage{cfg: cfg, file: os.NewFile(uintptr(fd), path), lock: os.NewFile(uintptr(lockFD), path)}
	if err := img.check(); err != nil {
		img.close()
		return nil, err
	}
	return img, nil
}

// closeDiskUpdates makes later UpdateDisk calls fail and waits for one in
// progress. Close calls it before it tears the devices down.
func (vm *VM) closeDiskUpdates() {
	vm.diskMu.Lock()
	vm.disksClosed = true
	vm.diskMu.Unlock()
}

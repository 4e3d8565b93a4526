package vmm

import (
	"fmt"

	"github.com/sirupsen/logrus"

	"vmm/devices/virtio"
	"vmm/devices/virtio/block"
)

// addDisk puts a virtio block device for img in the next virtio slot.
func (vm *VM) addDisk(img *diskImage) error {
	d := img.cfg
	name := "disk " + d.ID
	var dev *block.Device
	slot, err := vm.virtio.add(name, 1, func(notify []int) (virtio.Device, func() error, error) {
		be, why, err := newDiskBackend(img, notify[0])
		if err != nil {
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		logrus.WithFields(logrus.Fields{"disk": d.ID, "backend": be.Name()}).Info("block backend: " + why)
		log := func(msg string, err error) {
			l := logrus.WithField("disk", d.ID)
			if err != nil {
				l = l.WithError(err)
			}
			l.Warn(msg)
		}
		dev, err = block.New(block.Config{ID: d.ID, ReadOnly: d.ReadOnly, Capacity: img.size / block.SectorSize,
			BlockSize: img.blockSize(), Flush: !d.Unsafe, Unsafe: d.Unsafe, Backends: []block.Backend{be}, Log: log})
		if err != nil {
			be.Close()
			return nil, nil, fmt.Errorf("%s: %w", name, err)
		}
		return dev, dev.Close, nil
	})
	if err != nil {
		return err
	}
	vm.attached = append(vm.attached, &attachedDisk{img: img, dev: dev, slot: slot})
	mode := "read-write"
	if d.ReadOnly {
		mode = "read-only"
	}
	if d.Direct {
		mode += ", O_DIRECT"
	}
	logrus.WithFields(logrus.Fields{"disk": d.ID, "path": d.Path, "size": FormatSize(img.size), "mode": mode,
		"backend": dev.Backend(), "mmio": fmt.Sprintf("%#x", slot.base), "gsi": slot.gsi}).Info("virtio block device")
	return nil
}

// newDiskBackend returns the backend that serves img, woken by notifyFD
// (the queue's ioeventfd), and why that one (io_uring, or sync where
// io_uring is unavailable or was asked for).
func newDiskBackend(img *diskImage, notifyFD int) (block.Backend, string, error) {
	be, why, err := block.NewBackend(img.cfg.Engine, img.file, notifyFD, block.Options{
		ReadOnly: img.cfg.ReadOnly, Direct: img.cfg.Direct, MemAlign: img.memAlign, OffsetAlign: img.offAlign,
		QueueSize: block.QueueSize})
	if err != nil {
		return nil, "", fmt.Errorf("disk %s: %w", img.cfg.Path, err)
	}
	return be, why, nil
}

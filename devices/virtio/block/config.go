package block

import (
	"encoding/binary"

	"vmm/devices/virtio"
)

// Block feature bits (virtio 1.2, 5.2.3).
const (
	FeatureSizeMax     = 1 << 1
	FeatureSegMax      = 1 << 2
	FeatureRO          = 1 << 5
	FeatureBlkSize     = 1 << 6
	FeatureFlush       = 1 << 9
	FeatureTopology    = 1 << 10
	FeatureDiscard     = 1 << 13
	FeatureWriteZeroes = 1 << 14
)

// DeviceID is the virtio device type of a block device.
const DeviceID = 2

// configSize covers struct virtio_blk_config up to write_zeroes_may_unmap
// and its padding (5.2.4); fields past it (secure erase) are not offered.
const configSize = 60

// Offsets in the configuration space (5.2.4).
const (
	cfgCapacity              = 0
	cfgSizeMax               = 8
	cfgSegMax                = 12
	cfgBlkSize               = 20
	cfgPhysicalBlockExp      = 24
	cfgMinIOSize             = 26
	cfgOptIOSize             = 28
	cfgMaxDiscardSectors     = 36
	cfgMaxDiscardSeg         = 40
	cfgDiscardSectorAlign    = 44
	cfgMaxWriteZeroesSectors = 48
	cfgMaxWriteZeroesSeg     = 52
	cfgWriteZeroesMayUnmap   = 56
)

// QueueSize is the size of each virtqueue the device offers.
const QueueSize = 256

// features is what a device with this configuration offers.
func (c *Config) features() uint64 {
	f := uint64(virtio.FeatureVersion1 | virtio.FeatureEventIdx | virtio.FeatureIndirectDesc |
		FeatureSizeMax | FeatureSegMax | FeatureBlkSize | FeatureTopology)
	if c.ReadOnly {
		f |= FeatureRO
	} else {
		f |= FeatureDiscard | FeatureWriteZeroes
	}
	if c.Flush && !c.Unsafe {
		f |= FeatureFlush
	}
	return f
}

// configSpace renders the device's configuration space.
func (c *Config) configSpace() [configSize]byte {
	var b [configSize]byte
	le := binary.LittleEndian
	le.PutUint64(b[cfgCapacity:], c.Capacity)
	le.PutUint32(b[cfgSizeMax:], MaxSegmentSize)
	le.PutUint32(b[cfgSegMax:], MaxSegments)
	le.PutUint32(b[cfgBlkSize:], c.blockSize())
	// Topology: logical blocks are BlockSize; one of them is also the
	// physical block, the minimum and the optimal I/O size.
	b[cfgPhysicalBlockExp] = 0
	le.PutUint16(b[cfgMinIOSize:], 1)
	le.PutUint32(b[cfgOptIOSize:], 0)
	le.PutUint32(b[cfgMaxDiscardSectors:], MaxDiscardSectors)
	le.PutUint32(b[cfgMaxDiscardSeg:], 1)
	le.PutUint32(b[cfgDiscardSectorAlign:], c.blockSize()/SectorSize)
	le.PutUint32(b[cfgMaxWriteZeroesSectors:], MaxWriteZeroesSectors)
	le.PutUint32(b[cfgMaxWriteZeroesSeg:], 1)
	b[cfgWriteZeroesMayUnmap] = 1
	return b
}

func (c *Config) blockSize() uint32 {
	if c.BlockSize < SectorSize {
		return SectorSize
	}
	return c.BlockSize
}

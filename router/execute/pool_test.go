package execute

import (
	"testing"
	"unsafe"

	"github.com/stretchr/testify/require"
)

func TestFreeListBounds(t *testing.T) {
	fresh := 0
	l := newFreeList(2, 100, func(b []byte) int { return cap(b) }, func() []byte { fresh++; return nil })

	l.put(make([]byte, 0, 60))
	l.put(make([]byte, 0, 50)) // 110 > 100: dropped
	require.EqualValues(t, 60, l.held.Load())
	require.Equal(t, 60, cap(l.get()))
	require.EqualValues(t, 0, l.held.Load())
	require.Nil(t, l.get(), "empty: a fresh one")
	require.Equal(t, 1, fresh)

	l.put(make([]byte, 0, 150)) // over the budget alone
	require.EqualValues(t, 0, l.held.Load())
	for range 3 { // count bound: the third is dropped
		l.put(make([]byte, 0, 10))
	}
	require.EqualValues(t, 20, l.held.Load())
	require.Len(t, l.ch, 2)
}

func TestTreeSizeCountsItsMemory(t *testing.T) {
	tr := new(tree) // not from the pool: its capacities start at zero
	require.Zero(t, tr.size())
	doc := []byte(`{"data":{"a":[1,2,3],"b":"x"}}`)
	_, err := tr.parse(doc)
	require.NoError(t, err)
	require.GreaterOrEqual(t, tr.size(), len(doc)+8*28, "bytes and 8 nodes")
}

// TestNodeSize: the 28 bytes per value that the tree's memory claims rest on.
func TestNodeSize(t *testing.T) {
	require.EqualValues(t, 28, unsafe.Sizeof(node{}))
}

package zones_test

import (
	"archive/zip"
	"fmt"
	"os"
	"os/exec"
	"path/filepath"
	"strings"
	"testing"
	"time"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/zones"
)

func TestLoad(t *testing.T) {
	t.Parallel()
	berlin, err := zones.Load("Europe/Berlin")
	require.NoError(t, err)
	summer := time.Date(2026, 7, 1, 12, 0, 0, 0, berlin)
	_, off := summer.Zone()
	require.Equal(t, 2*3600, off)
	utc, err := zones.Load("")
	require.NoError(t, err)
	require.Equal(t, time.UTC, utc)
	_, err = zones.Load("Mars/Olympus_Mons")
	require.ErrorContains(t, err, `"Mars/Olympus_Mons" is not an IANA zone name`)
	_, err = zones.Load("../../etc/passwd")
	require.Error(t, err)
}

// TestHostZoneDataIsIgnored runs a child process whose ZONEINFO names a
// doctored zone database in which Europe/London keeps Tokyo's time. The
// standard library believes it; zones.Load does not.
func TestHostZoneDataIsIgnored(t *testing.T) {
	if os.Getenv("ZONES_CHILD") == "1" {
		at := time.Date(2026, 1, 15, 12, 0, 0, 0, time.UTC)
		std, err := time.LoadLocation("Europe/London")
		if err != nil {
			fmt.Println("std error", err)
			return
		}
		ours, err := zones.Load("Europe/London")
		if err != nil {
			fmt.Println("zones error", err)
			return
		}
		_, stdOff := at.In(std).Zone()
		_, ourOff := at.In(ours).Zone()
		fmt.Printf("offsets std=%d zones=%d\n", stdOff, ourOff)
		return
	}
	t.Parallel()
	tokyo, err := os.ReadFile("/usr/share/zoneinfo/Asia/Tokyo")
	if err != nil {
		t.Skip("the host has no zoneinfo to doctor:", err)
	}
	path := filepath.Join(t.TempDir(), "doctored.zip")
	f, err := os.Create(path)
	require.NoError(t, err)
	zw := zip.NewWriter(f)
	w, err := zw.CreateHeader(&zip.FileHeader{Name: "Europe/London", Method: zip.Store})
	require.NoError(t, err)
	_, err = w.Write(tokyo)
	require.NoError(t, err)
	require.NoError(t, zw.Close())
	require.NoError(t, f.Close())

	cmd := exec.Command(os.Args[0], "-test.run", "^TestHostZoneDataIsIgnored$")
	cmd.Env = append(os.Environ(), "ZONES_CHILD=1", "ZONEINFO="+path)
	out, err := cmd.CombinedOutput()
	require.NoError(t, err, string(out))
	require.True(t, strings.Contains(string(out), "offsets std=32400 zones=0"), "child said: %s", out)
}

package tcpproxy_test

import (
	"bufio"
	"net"
	"testing"

	"github.com/stretchr/testify/require"

	"github.com/nurture-dev/nurture/internal/tcpproxy"
)

func TestCutAndRestore(t *testing.T) {
	t.Parallel()
	echo, err := net.Listen("tcp", "127.0.0.1:0")
	require.NoError(t, err)
	defer echo.Close()
	go func() {
		for {
			c, err := echo.Accept()
			if err != nil {
				return
			}
			go func() {
				defer c.Close()
				line, _ := bufio.NewReader(c).ReadString('\n')
				_, _ = c.Write([]byte(line))
			}()
		}
	}()
	p, err := tcpproxy.Start(echo.Addr().String())
	require.NoError(t, err)
	defer p.Close()
	roundTrip := func() error {
		c, err := net.Dial("tcp", p.Addr)
		if err != nil {
			return err
		}
		defer c.Close()
		if _, err := c.Write([]byte("hi\n")); err != nil {
			return err
		}
		_, err = bufio.NewReader(c).ReadString('\n')
		return err
	}
	require.NoError(t, roundTrip())

	open, err := net.Dial("tcp", p.Addr)
	require.NoError(t, err)
	defer open.Close()
	p.Cut()
	require.Error(t, roundTrip(), "new connections are refused")
	_, err = bufio.NewReader(open).ReadString('\n')
	require.Error(t, err, "open connections break")

	addr := p.Addr
	require.NoError(t, p.Restore())
	require.Equal(t, addr, p.Addr)
	require.NoError(t, roundTrip())
}

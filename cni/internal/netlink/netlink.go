//go:build linux

// Package netlink reads and sets an interface's MAC address inside another network namespace,
// with the standard library only: setns(2) on a locked OS thread that is thrown away afterwards,
// and one rtnetlink RTM_NEWLINK request carrying IFLA_ADDRESS.
package netlink

import (
	"errors"
	"fmt"
	"net"
	"os"
	"runtime"
	"syscall"
	"unsafe"
)

// setnsNumbers: the standard library's syscall package lacks SYS_SETNS on some architectures.
var setnsNumbers = map[string]uintptr{
	"amd64": 308, "arm64": 268, "riscv64": 268, "loong64": 268, "386": 346, "arm": 375,
	"ppc64": 350, "ppc64le": 350, "s390x": 339, "mips64": 5303, "mips64le": 5303,
}

// InNetns runs fn on an OS thread that has joined the network namespace at nsPath. The thread
// stays locked and is never returned to the Go scheduler (it exits with the goroutine), so no
// other goroutine ever runs in the container's namespace.
func InNetns(nsPath string, fn func() error) error {
	done := make(chan error, 1)
	go func() {
		runtime.LockOSThread() // deliberately never unlocked
		ns, err := os.Open(nsPath)
		if err != nil {
			done <- fmt.Errorf("opening network namespace: %v", err)
			return
		}
		defer ns.Close()
		number, ok := setnsNumbers[runtime.GOARCH]
		if !ok {
			done <- fmt.Errorf("setns: unknown system call number on %s", runtime.GOARCH)
			return
		}
		if _, _, errno := syscall.RawSyscall(number, ns.Fd(), syscall.CLONE_NEWNET, 0); errno != 0 {
			done <- fmt.Errorf("entering network namespace %s: %v", nsPath, errno)
			return
		}
		done <- fn()
	}()
	return <-done
}

// GetMAC returns the hardware address of ifName in the namespace.
func GetMAC(nsPath, ifName string) (net.HardwareAddr, error) {
	var mac net.HardwareAddr
	err := InNetns(nsPath, func() error {
		iface, err := net.InterfaceByName(ifName)
		if err != nil {
			return fmt.Errorf("interface %s: %v", ifName, err)
		}
		mac = iface.HardwareAddr
		return nil
	})
	return mac, err
}

// SetMAC sets the hardware address of ifName in the namespace. An interface that refuses a
// change while up (EBUSY) is taken down, changed and brought up again.
func SetMAC(nsPath, ifName string, mac net.HardwareAddr) error {
	return InNetns(nsPath, func() error {
		iface, err := net.InterfaceByName(ifName)
		if err != nil {
			return fmt.Errorf("interface %s: %v", ifName, err)
		}
		if iface.HardwareAddr.String() == mac.String() {
			return nil
		}
		sock, err := open()
		if err != nil {
			return err
		}
		defer syscall.Close(sock)
		err = request(sock, iface.Index, 0, 0, mac)
		if errors.Is(err, syscall.EBUSY) && iface.Flags&net.FlagUp != 0 {
			if err := request(sock, iface.Index, 0, syscall.IFF_UP, nil); err != nil {
				return fmt.Errorf("taking %s down to change its MAC: %v", ifName, err)
			}
			err = request(sock, iface.Index, 0, 0, mac)
			if upErr := request(sock, iface.Index, syscall.IFF_UP, syscall.IFF_UP, nil); upErr != nil && err == nil {
				err = fmt.Errorf("bringing %s up again: %v", ifName, upErr)
			}
		}
		if err != nil {
			return fmt.Errorf("setting the MAC of %s to %s: %v", ifName, mac, err)
		}
		return nil
	})
}

func open() (int, error) {
	sock, err := syscall.Socket(syscall.AF_NETLINK, syscall.SOCK_RAW|syscall.SOCK_CLOEXEC, syscall.NETLINK_ROUTE)
	if err != nil {
		return -1, fmt.Errorf("netlink socket: %v", err)
	}
	if err := syscall.Bind(sock, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		syscall.Close(sock)
		return -1, fmt.Errorf("netlink bind: %v", err)
	}
	return sock, nil
}

var sequence uint32

// request sends RTM_NEWLINK for the interface: flags/change as in ifinfomsg, and IFLA_ADDRESS
// when mac is not nil; it waits for the kernel's acknowledgement.
func request(sock, index int, flags, change uint32, mac net.HardwareAddr) error {
	sequence++
	body := make([]byte, syscall.SizeofIfInfomsg)
	info := (*syscall.IfInfomsg)(unsafe.Pointer(&body[0]))
	info.Family = syscall.AF_UNSPEC
	info.Index = int32(index)
	info.Flags = flags
	info.Change = change
	if mac != nil {
		body = append(body, attribute(syscall.IFLA_ADDRESS, mac)...)
	}
	message := make([]byte, syscall.SizeofNlMsghdr, syscall.SizeofNlMsghdr+len(body))
	header := (*syscall.NlMsghdr)(unsafe.Pointer(&message[0]))
	header.Len = uint32(syscall.SizeofNlMsghdr + len(body))
	header.Type = syscall.RTM_NEWLINK
	header.Flags = syscall.NLM_F_REQUEST | syscall.NLM_F_ACK
	header.Seq = sequence
	message = append(message, body...)
	if err := syscall.Sendto(sock, message, 0, &syscall.SockaddrNetlink{Family: syscall.AF_NETLINK}); err != nil {
		return fmt.Errorf("netlink send: %v", err)
	}
	buf := make([]byte, 65536)
	for {
		n, _, err := syscall.Recvfrom(sock, buf, 0)
		if err != nil {
			return fmt.Errorf("netlink receive: %v", err)
		}
		messages, err := syscall.ParseNetlinkMessage(buf[:n])
		if err != nil {
			return fmt.Errorf("netlink parse: %v", err)
		}
		for _, m := range messages {
			if m.Header.Seq != sequence || m.Header.Type != syscall.NLMSG_ERROR {
				continue
			}
			if len(m.Data) < 4 {
				return fmt.Errorf("netlink: short acknowledgement")
			}
			code := *(*int32)(unsafe.Pointer(&m.Data[0]))
			if code == 0 {
				return nil
			}
			return syscall.Errno(-code)
		}
	}
}

// attribute encodes one rtattr, padded to 4 bytes.
func attribute(kind uint16, data []byte) []byte {
	length := syscall.SizeofRtAttr + len(data)
	out := make([]byte, (length+3)&^3)
	attr := (*syscall.RtAttr)(unsafe.Pointer(&out[0]))
	attr.Len = uint16(length)
	attr.Type = kind
	copy(out[syscall.SizeofRtAttr:], data)
	return out
}

# SPDX-License-Identifier: GPL-2.0
# kunit.py --qemu_config for daedalus: x86_64 under TCG only. kunit.py runs
# 'qemu-system-' + qemu_arch; the x86_64-tcg wrapper beside this file strips
# the kvm/hvf accelerators kunit.py always asks for (KVM hangs here).
import os

from ..qemu_config import QemuArchParams

_BIN = os.path.join(os.path.dirname(os.path.abspath(__file__)), 'bin')
if _BIN not in os.environ.get('PATH', '').split(os.pathsep):
	os.environ['PATH'] = _BIN + os.pathsep + os.environ.get('PATH', '')

QEMU_ARCH = QemuArchParams(linux_arch='x86_64',
			   kconfig='''
CONFIG_SERIAL_8250=y
CONFIG_SERIAL_8250_CONSOLE=y''',
			   qemu_arch='x86_64-tcg',
			   kernel_path='arch/x86/boot/bzImage',
			   kernel_command_line='console=ttyS0',
			   extra_qemu_params=['-bios', 'qboot.rom', '-smp', '2'])

// Every driver the runner knows, one registration each. A new console, power switch or
// load method is a new file in drivers/<role>/ and one line here; nothing else changes.
import { register } from './registry.js';
import { serialConsole } from './console/serial.js';
import { ptyConsole } from './console/pty.js';
import { tcpConsole } from './console/tcp.js';
import { rfc2217Console } from './console/rfc2217.js';
import { ostoolServerConsole } from './console/ostool-server.js';
import { shellPower } from './power/shell.js';
import { qemuPower } from './power/qemu.js';
import { ostoolServerPower } from './power/ostool-server.js';
import { sshPower } from './power/ssh.js';
import { pduPower } from './power/pdu.js';
import { uhubctlPower } from './power/uhubctl.js';
import { tftpLoad } from './load/tftp.js';
import { ymodemLoad } from './load/ymodem.js';
import { fastbootLoad } from './load/fastboot.js';

for (const d of [
  serialConsole,
  ptyConsole,
  tcpConsole,
  rfc2217Console,
  ostoolServerConsole,
  shellPower,
  sshPower,
  qemuPower,
  ostoolServerPower,
  pduPower,
  uhubctlPower,
  tftpLoad,
  ymodemLoad,
  fastbootLoad,
])
  register(d);

/*
 * Modbus test slave on libmodbus, an implementation independent of ours.
 *
 *   lmbslave tcp PORT          (PORT 0: any free port; prints "READY <port>")
 *   lmbslave rtu DEVICE BAUD   (unit 1; prints "READY 0")
 *
 * Data (1000 objects each, zero-based): holding register i = i, input
 * register i = 1000 + i, coil i = i odd, discrete input i = i even.
 *
 * After each write request it prints "W <fc> <addr> <v0> <v1> ..." with the
 * values now stored. Commands on stdin, one per line:
 *   get hr|ir|co|di ADDR COUNT  -> "V <v0> <v1> ..."
 *   set hr|ir|co|di ADDR V...   -> "OK"
 *   fault garble|truncate|silent|badcrc N  -> "OK"; the next N requests get
 *       a response with a wrong byte count, a truncated frame, none, or (RTU)
 *       a bad CRC.
 */
#include <errno.h>
#include <modbus.h>
#include <netinet/in.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/select.h>
#include <sys/socket.h>
#include <unistd.h>

#define N 1000

static modbus_mapping_t *map;
static char fault[16];
static int faults;

static uint16_t *regs(const char *t) {
	if (!strcmp(t, "hr")) return map->tab_registers;
	if (!strcmp(t, "ir")) return map->tab_input_registers;
	return NULL;
}

static uint8_t *bits(const char *t) {
	if (!strcmp(t, "co")) return map->tab_bits;
	if (!strcmp(t, "di")) return map->tab_input_bits;
	return NULL;
}

static void command(char *line) {
	char cmd[16] = "", table[16] = "";
	int addr = 0, n = 0, off = 0;
	if (sscanf(line, "%15s %15s %n", cmd, table, &off) < 2) return;
	if (!strcmp(cmd, "fault")) {
		snprintf(fault, sizeof fault, "%s", table);
		faults = atoi(line + off);
		printf("OK\n");
	} else if (!strcmp(cmd, "get")) {
		sscanf(line + off, "%d %d", &addr, &n);
		printf("V");
		for (int i = addr; i < addr + n && i < N; i++)
			printf(" %d", regs(table) ? regs(table)[i] : bits(table)[i]);
		printf("\n");
	} else if (!strcmp(cmd, "set")) {
		char *p = line + off;
		int v, used;
		sscanf(p, "%d%n", &addr, &used);
		p += used;
		for (int i = addr; i < N && sscanf(p, "%d%n", &v, &used) == 1; i++, p += used) {
			if (regs(table)) regs(table)[i] = (uint16_t)v;
			else bits(table)[i] = (uint8_t)v;
		}
		printf("OK\n");
	}
	fflush(stdout);
}

static void report(const uint8_t *q, int hdr) {
	int fc = q[hdr], addr = q[hdr + 1] << 8 | q[hdr + 2], n = 1;
	if (fc == 15 || fc == 16) n = q[hdr + 3] << 8 | q[hdr + 4];
	if (fc != 5 && fc != 6 && fc != 15 && fc != 16) return;
	printf("W %d %d", fc, addr);
	for (int i = addr; i < addr + n && i < N; i++)
		printf(" %d", (fc == 5 || fc == 15) ? map->tab_bits[i] : map->tab_registers[i]);
	printf("\n");
	fflush(stdout);
}

static uint16_t crc16(const uint8_t *b, int n) {
	uint16_t crc = 0xFFFF;
	for (int i = 0; i < n; i++) {
		crc ^= b[i];
		for (int j = 0; j < 8; j++) crc = (crc & 1) ? (crc >> 1) ^ 0xA001 : crc >> 1;
	}
	return crc;
}

/* answer serves one request, with a fault when one is pending. */
static void answer(modbus_t *ctx, int fd, const uint8_t *q, int len, int rtu) {
	int hdr = modbus_get_header_length(ctx);
	if (faults > 0) {
		faults--;
		uint8_t r[16];
		int n = 0;
		if (!strcmp(fault, "silent")) return;
		if (rtu) {
			r[n++] = q[0];
		} else {
			memcpy(r, q, 4); /* transaction and protocol id */
			r[4] = 0;
			n = 6;
			r[n++] = q[6];
		}
		/* A register read answer claiming 4 data bytes but carrying 2. */
		r[n++] = q[hdr];
		r[n++] = 4;
		r[n++] = 0x12;
		r[n++] = 0x34;
		if (!rtu) r[5] = (uint8_t)(n - 6);
		if (!strcmp(fault, "truncate")) {
			if (!rtu) r[5] = 20; /* header promises more than will come */
			n -= 2;
		}
		if (rtu) {
			uint16_t c = crc16(r, n);
			if (!strcmp(fault, "badcrc")) c ^= 0xFFFF;
			r[n++] = c & 0xFF;
			r[n++] = c >> 8;
		}
		if (write(fd, r, n) < 0) perror("write");
		return;
	}
	modbus_reply(ctx, q, len, map);
	report(q, hdr);
}

int main(int argc, char **argv) {
	if (argc < 3) {
		fprintf(stderr, "usage: %s tcp PORT | rtu DEVICE BAUD\n", argv[0]);
		return 2;
	}
	map = modbus_mapping_new(N, N, N, N);
	for (int i = 0; i < N; i++) {
		map->tab_registers[i] = (uint16_t)i;
		map->tab_input_registers[i] = (uint16_t)(1000 + i);
		map->tab_bits[i] = i % 2;
		map->tab_input_bits[i] = (i + 1) % 2;
	}
	uint8_t q[MODBUS_TCP_MAX_ADU_LENGTH];
	char line[4096];
	int rtu = !strcmp(argv[1], "rtu");
	modbus_t *ctx;
	int server = -1, port = 0;
	if (rtu) {
		ctx = modbus_new_rtu(argv[2], argc > 3 ? atoi(argv[3]) : 9600, 'N', 8, 1);
		modbus_set_slave(ctx, 1);
		if (modbus_connect(ctx) == -1) {
			fprintf(stderr, "connect: %s\n", modbus_strerror(errno));
			return 1;
		}
	} else {
		ctx = modbus_new_tcp("127.0.0.1", atoi(argv[2]));
		server = modbus_tcp_listen(ctx, 16);
		if (server < 0) {
			fprintf(stderr, "listen: %s\n", modbus_strerror(errno));
			return 1;
		}
		struct sockaddr_in sa;
		socklen_t sl = sizeof sa;
		getsockname(server, (struct sockaddr *)&sa, &sl);
		port = ntohs(sa.sin_port);
	}
	printf("READY %d\n", port);
	fflush(stdout);

	fd_set all;
	FD_ZERO(&all);
	FD_SET(0, &all);
	int maxfd = 0;
	if (rtu) {
		FD_SET(modbus_get_socket(ctx), &all);
		maxfd = modbus_get_socket(ctx);
	} else {
		FD_SET(server, &all);
		maxfd = server;
	}
	for (;;) {
		fd_set rd = all;
		if (select(maxfd + 1, &rd, NULL, NULL, NULL) < 0) {
			if (errno == EINTR) continue;
			perror("select");
			return 1;
		}
		for (int fd = 0; fd <= maxfd; fd++) {
			if (!FD_ISSET(fd, &rd)) continue;
			if (fd == 0) {
				if (!fgets(line, sizeof line, stdin)) return 0; /* the test is gone */
				command(line);
			} else if (fd == server) {
				int c = accept(server, NULL, NULL);
				if (c < 0) continue;
				FD_SET(c, &all);
				if (c > maxfd) maxfd = c;
			} else {
				modbus_set_socket(ctx, fd);
				int rc = modbus_receive(ctx, q);
				if (rc > 0) {
					answer(ctx, fd, q, rc, rtu);
				} else if (rc == -1 && !rtu) {
					close(fd);
					FD_CLR(fd, &all);
				}
			}
		}
	}
}

// floor: what one round of the everyday workload costs this machine with
// nothing but the system calls the round cannot do without, written in C
// with no runtime. `go run ./scripts/bench -scenarios floor` builds and
// runs it; docs/performance.md ("The machine's floor") has its figures.
//
// Three processes on 127.0.0.1 (random ports):
//   device       RATE messages/s of 60 bytes (MQTT PUBLISH sized), paced by
//                an absolute clock; reads and drops what comes back
//   thingsboard  answers each read with 4 bytes (a PUBACK)
//   gateway      (measured) waits for data, sleeps out the window, reads
//                everything that came, reads the previous round's PUBACK,
//                appends the bytes to a file and fdatasyncs it (unless
//                SYNC is 0: memory storage), writes one acknowledgement
//                to the device and one publish to ThingsBoard
//
// Usage: floor RATE WINDOW_MS SYNC WARMUP_S SECONDS FILE
// Prints one line of key=value pairs: msgs_per_s rounds_per_s cpu_pct
// ms_per_1000dp (3 datapoints a message, as the anchor workload)
// us_per_round csw_per_s. Exits by itself after WARMUP_S + SECONDS, or
// when the device side has been silent for 5 s.
#define _GNU_SOURCE
#include <errno.h>
#include <fcntl.h>
#include <netinet/in.h>
#include <netinet/tcp.h>
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <string.h>
#include <sys/epoll.h>
#include <sys/prctl.h>
#include <sys/resource.h>
#include <sys/socket.h>
#include <sys/wait.h>
#include <time.h>
#include <unistd.h>

static void die(const char *what) {
	perror(what);
	exit(1);
}

static int listen_loopback(int *port) {
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		die("socket");
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK)};
	socklen_t l = sizeof a;
	if (bind(s, (struct sockaddr *)&a, sizeof a) || listen(s, 1) || getsockname(s, (struct sockaddr *)&a, &l))
		die("listen");
	*port = ntohs(a.sin_port);
	return s;
}

static int dial_loopback(int port) {
	int s = socket(AF_INET, SOCK_STREAM | SOCK_CLOEXEC, 0);
	if (s < 0)
		die("socket");
	struct sockaddr_in a = {.sin_family = AF_INET, .sin_addr.s_addr = htonl(INADDR_LOOPBACK), .sin_port = htons(port)};
	if (connect(s, (struct sockaddr *)&a, sizeof a))
		die("connect");
	return s;
}

static void nodelay(int s) {
	int one = 1;
	setsockopt(s, IPPROTO_TCP, TCP_NODELAY, &one, sizeof one);
}

static double now(void) {
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	return t.tv_sec + t.tv_nsec / 1e9;
}

static double cpu_seconds(void) {
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return r.ru_utime.tv_sec + r.ru_stime.tv_sec + (r.ru_utime.tv_usec + r.ru_stime.tv_usec) / 1e6;
}

static long switches(void) {
	struct rusage r;
	getrusage(RUSAGE_SELF, &r);
	return r.ru_nvcsw + r.ru_nivcsw;
}

// device publishes rate messages a second until its parent dies.
static void device(int port, int rate) {
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int s = dial_loopback(port);
	nodelay(s);
	fcntl(s, F_SETFL, O_NONBLOCK);
	char msg[60], buf[4096];
	memset(msg, 'x', sizeof msg);
	struct timespec t;
	clock_gettime(CLOCK_MONOTONIC, &t);
	for (;;) {
		if (write(s, msg, sizeof msg) < 0 && errno != EAGAIN)
			_exit(0);
		while (read(s, buf, sizeof buf) > 0) {
		}
		t.tv_nsec += 1000000000L / rate;
		while (t.tv_nsec >= 1000000000L) {
			t.tv_sec++;
			t.tv_nsec -= 1000000000L;
		}
		clock_nanosleep(CLOCK_MONOTONIC, TIMER_ABSTIME, &t, NULL);
	}
}

// thingsboard answers every read with a 4-byte acknowledgement.
static void thingsboard(int port) {
	prctl(PR_SET_PDEATHSIG, SIGKILL);
	int s = dial_loopback(port);
	nodelay(s);
	static char buf[1 << 16];
	for (;;) {
		if (read(s, buf, sizeof buf) <= 0 || write(s, "PACK", 4) != 4)
			_exit(0);
	}
}

int main(int argc, char **argv) {
	if (argc != 7) {
		fprintf(stderr, "usage: floor RATE WINDOW_MS SYNC WARMUP_S SECONDS FILE\n");
		return 2;
	}
	int rate = atoi(argv[1]), window_ms = atoi(argv[2]), sync = atoi(argv[3]);
	double warmup = atof(argv[4]), secs = atof(argv[5]);
	if (rate <= 0 || rate > 100000 || window_ms < 0 || window_ms > 10000 || warmup < 0 || secs <= 0 || secs > 3600) {
		fprintf(stderr, "floor: bad arguments\n");
		return 2;
	}
	int dport, tport;
	int dl = listen_loopback(&dport), tl = listen_loopback(&tport);
	pid_t dev = fork();
	if (dev < 0)
		die("fork");
	if (dev == 0)
		device(dport, rate);
	pid_t tb = fork();
	if (tb < 0)
		die("fork");
	if (tb == 0)
		thingsboard(tport);
	int ds = accept4(dl, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	int ts = accept4(tl, NULL, NULL, SOCK_CLOEXEC | SOCK_NONBLOCK);
	if (ds < 0 || ts < 0)
		die("accept");
	close(dl);
	close(tl);
	nodelay(ds);
	nodelay(ts);
	int f = open(argv[6], O_CREAT | O_TRUNC | O_WRONLY | O_CLOEXEC, 0600);
	int ep = epoll_create1(EPOLL_CLOEXEC);
	struct epoll_event ev = {.events = EPOLLIN, .data.fd = ds};
	if (f < 0 || ep < 0 || epoll_ctl(ep, EPOLL_CTL_ADD, ds, &ev))
		die("setup");

	static char buf[1 << 16];
	off_t off = 0;
	long msgs = 0, rounds = 0, sw0 = 0;
	double start = now(), t0 = 0, cpu0 = 0, quiet = start;
	int status = 0;
	for (;;) {
		struct epoll_event e;
		int n = epoll_wait(ep, &e, 1, 1000);
		double t = now();
		if (n <= 0) {
			if (t - quiet > 5) {
				fprintf(stderr, "floor: the device side went silent\n");
				status = 1;
				break;
			}
			continue;
		}
		quiet = t;
		struct timespec w = {window_ms / 1000, (window_ms % 1000) * 1000000L};
		nanosleep(&w, NULL);
		ssize_t got = 0, k;
		while (got < (ssize_t)sizeof buf && (k = read(ds, buf + got, sizeof buf - got)) > 0)
			got += k;
		char pk[256];
		while (read(ts, pk, sizeof pk) > 0) {
		}
		if (got <= 0)
			continue;
		if (pwrite(f, buf, got, off) != got)
			die("pwrite");
		off += got;
		if (off > (64 << 20))
			off = 0;
		if (sync && fdatasync(f))
			die("fdatasync");
		if (write(ds, "ACKS", 4) < 0 && errno != EAGAIN)
			die("write device");
		if (write(ts, buf, got) < 0 && errno != EAGAIN)
			die("write thingsboard");
		t = now();
		if (t0 == 0) {
			if (t - start >= warmup) {
				t0 = t;
				cpu0 = cpu_seconds();
				sw0 = switches();
			}
			continue;
		}
		msgs += got / 60;
		rounds++;
		if (t - t0 >= secs) {
			double el = t - t0, cpu = cpu_seconds() - cpu0;
			printf("msgs_per_s=%.1f rounds_per_s=%.2f cpu_pct=%.4f ms_per_1000dp=%.2f us_per_round=%.1f csw_per_s=%.1f\n",
			       msgs / el, rounds / el, cpu / el * 100, msgs ? cpu * 1000 / (msgs * 3.0 / 1000) : 0,
			       rounds ? cpu / rounds * 1e6 : 0, (switches() - sw0) / el);
			break;
		}
	}
	kill(dev, SIGKILL);
	kill(tb, SIGKILL);
	waitpid(dev, NULL, 0);
	waitpid(tb, NULL, 0);
	close(f);
	unlink(argv[6]);
	return status;
}

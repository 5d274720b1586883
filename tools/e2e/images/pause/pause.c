/* The sandbox ("pause") container of every pod in the e2e cluster: holds the pod's namespaces,
 * reaps zombies (it is PID 1 when the pod shares its PID namespace) and exits on SIGINT/SIGTERM.
 * Our own small program, built statically, because no image can be pulled here. */
#include <signal.h>
#include <stdio.h>
#include <stdlib.h>
#include <sys/wait.h>
#include <unistd.h>

static void on_stop(int sig) {
	(void)sig;
	_exit(0);
}

static void on_child(int sig) {
	(void)sig;
	while (waitpid(-1, NULL, WNOHANG) > 0) {
	}
}

int main(int argc, char **argv) {
	struct sigaction stop = {.sa_handler = on_stop};
	struct sigaction child = {.sa_handler = on_child, .sa_flags = SA_NOCLDSTOP};
	if (argc > 1 && argv[1][0] == '-' && argv[1][1] == 'v') {
		puts("griddb-todo pause 3.10-local");
		return 0;
	}
	if (getpid() != 1)
		fprintf(stderr, "pause: warning: not PID 1\n");
	if (sigaction(SIGINT, &stop, NULL) < 0 || sigaction(SIGTERM, &stop, NULL) < 0 ||
	    sigaction(SIGCHLD, &child, NULL) < 0) {
		perror("sigaction");
		return 1;
	}
	for (;;)
		pause();
}

/*
 * The sp-admin commands that live outside sp-admin.c: each gets the
 * arguments after its name and returns the exit status.
 */
#ifndef ADMIN_CMDS_H
#define ADMIN_CMDS_H

int cmd_check_config(int argc, char **argv);
int cmd_config_reference(int argc, char **argv);
int cmd_status(int argc, char **argv);

#endif

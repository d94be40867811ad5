/*
 * Watch progress: where a viewer is in a title, one row per user and title.
 */
#ifndef SP_HISTORY_H
#define SP_HISTORY_H

#endif

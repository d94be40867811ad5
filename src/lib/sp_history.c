#include "sp_history.h"

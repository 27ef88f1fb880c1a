/* The slot player (player.c): the due slot of every registered two-party recording, and its bookkeeping, in one call per tick. */
#ifndef ARI_PLAYER_H
#define ARI_PLAYER_H
#include <node_api.h>

napi_value js_player_add(napi_env env, napi_callback_info info);
napi_value js_player_remove(napi_env env, napi_callback_info info);
napi_value js_player_set_out(napi_env env, napi_callback_info info);
napi_value js_player_tick(napi_env env, napi_callback_info info);
napi_value js_player_count(napi_env env, napi_callback_info info);
/* Frees this thread's registrations (the environment's teardown). */
void players_release_all(void);

#endif

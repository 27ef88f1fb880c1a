/* The WAV writers' disk writes of a worker tick in one thread-pool job (file_batch.c). */
#ifndef ARI_FILE_BATCH_H
#define ARI_FILE_BATCH_H
#include <node_api.h>

napi_value js_write_batch(napi_env env, napi_callback_info info);

#endif

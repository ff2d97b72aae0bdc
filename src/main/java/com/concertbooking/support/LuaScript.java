package com.concertbooking.support;

import java.nio.charset.StandardCharsets;
import java.security.MessageDigest;
import java.security.NoSuchAlgorithmException;
import java.util.HexFormat;

import org.springframework.data.redis.core.script.RedisScript;

/**
 * A Redis script with its SHA-1 computed once. Spring's DefaultRedisScript takes a lock on every getSha1() call,
 * which parks event-loop threads under load; run by EVALSHA, falling back to EVAL after a Redis restart.
 */
public record LuaScript<T>(String getScriptAsString, Class<T> getResultType, String getSha1) implements RedisScript<T> {

    public LuaScript(String source, Class<T> resultType) {
        this(source, resultType, sha1(source));
    }

    private static String sha1(String source) {
        try {
            return HexFormat.of().formatHex(MessageDigest.getInstance("SHA-1").digest(source.getBytes(StandardCharsets.UTF_8)));
        } catch (NoSuchAlgorithmException e) {
            throw new IllegalStateException(e);
        }
    }
}

package ecsync.bench;

import java.lang.reflect.InvocationHandler;
import java.lang.reflect.InvocationTargetException;
import java.lang.reflect.Method;
import java.lang.reflect.Proxy;
import java.sql.Connection;
import java.sql.Driver;
import java.sql.DriverPropertyInfo;
import java.sql.SQLException;
import java.sql.SQLFeatureNotSupportedException;
import java.sql.Statement;
import java.util.Properties;
import java.util.logging.Logger;

/**
 * MySQL Connector/J, for Debezium's MySQL connector reading MariaDB
 * (database.jdbc.driver).
 *
 * Debezium 3.x moved MariaDB to a connector of its own
 * (debezium-connector-mariadb), which Maven Central does not serve here; the
 * MySQL connector of 3.6.1 reads MariaDB's binary log as it reads MySQL's
 * (file and position, no GTIDs), except for one statement: it asks for the
 * binary log position with SHOW BINARY LOG STATUS (MySQL 8.4+) and, when that
 * fails on a server whose version is above 8.4 (MariaDB's is 10.11), stops.
 * This driver hands the MariaDB server SHOW MASTER STATUS instead, the
 * statement the connector itself uses on MySQL before 8.4.  Nothing else is
 * touched: the queries are the connector's, sent as they are.
 */
public final class MariaDbShimDriver implements Driver {
    private final Driver mysql = new com.mysql.cj.jdbc.Driver();

    public MariaDbShimDriver() throws SQLException {
    }

    static String rewrite(String sql) {
        if (sql != null && sql.trim().equalsIgnoreCase("SHOW BINARY LOG STATUS")) {
            return "SHOW MASTER STATUS";
        }
        return sql;
    }

    @Override
    public Connection connect(String url, Properties info) throws SQLException {
        Connection c = mysql.connect(url, info);
        return c == null ? null : (Connection) wrap(c, Connection.class);
    }

    private static Object wrap(Object target, Class<?> iface) {
        InvocationHandler h = (proxy, m, args) -> {
            if (args != null && args.length > 0 && args[0] instanceof String && isSqlMethod(m)) {
                args[0] = rewrite((String) args[0]);
            }
            Object r;
            try {
                r = m.invoke(target, args);
            }
            catch (InvocationTargetException e) {
                throw e.getCause();
            }
            // statements made by the connection: their execute*(sql) too
            if (iface == Connection.class && r instanceof Statement && m.getReturnType() == Statement.class) {
                return wrap(r, Statement.class);
            }
            return r;
        };
        return Proxy.newProxyInstance(MariaDbShimDriver.class.getClassLoader(), new Class<?>[]{ iface }, h);
    }

    private static boolean isSqlMethod(Method m) {
        String n = m.getName();
        return n.startsWith("execute") || n.startsWith("prepare") || n.equals("addBatch") || n.equals("nativeSQL");
    }

    @Override
    public boolean acceptsURL(String url) throws SQLException {
        return mysql.acceptsURL(url);
    }

    @Override
    public DriverPropertyInfo[] getPropertyInfo(String url, Properties info) throws SQLException {
        return mysql.getPropertyInfo(url, info);
    }

    @Override
    public int getMajorVersion() {
        return mysql.getMajorVersion();
    }

    @Override
    public int getMinorVersion() {
        return mysql.getMinorVersion();
    }

    @Override
    public boolean jdbcCompliant() {
        return mysql.jdbcCompliant();
    }

    @Override
    public Logger getParentLogger() throws SQLFeatureNotSupportedException {
        return mysql.getParentLogger();
    }
}

# Replies to what each recv() returns, but keeps every connection in a list and never closes one.
import sys
from socket import *
server = socket(AF_INET, SOCK_STREAM)
server.setsockopt(SOL_SOCKET, SO_REUSEADDR, 1)
server.bind(('', int(sys.argv[1])))
server.listen(5)
connections = []
while True:
    conn, addr = server.accept()
    connections.append(conn)
    sentence = conn.recv(1024).decode()
    conn.send(sentence.upper().encode())

# The handout's UDPServer.py, but for the port (argv[1], default 0: any) and printing it:
# a blocking recvfrom/sendto loop.
import sys
from socket import *
serverSocket = socket(AF_INET, SOCK_DGRAM)
serverSocket.bind(('127.0.0.1', int(sys.argv[1]) if len(sys.argv) > 1 else 0))
print('port', serverSocket.getsockname()[1], flush=True)
while True:
    message, clientAddress = serverSocket.recvfrom(2048)
    modifiedMessage = message.decode().upper()
    serverSocket.sendto(modifiedMessage.encode(), clientAddress)
